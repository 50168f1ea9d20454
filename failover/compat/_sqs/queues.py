"""CreateQueue, GetQueueUrl, DeleteQueue, ListQueues, Get/SetQueueAttributes and PurgeQueue of mapped
queue names.

CreateQueue creates the queue on every provider the name maps to (those down are created when a
later call builds them). DeleteQueue deletes it on every provider that answers (one that is down,
when it answers again). ListQueues is the union of each mapped account's queues under the application's names,
so it still lists them while SQS is down. The attributes the drop-in honours (VisibilityTimeout,
DelaySeconds, ReceiveMessageWaitTimeSeconds) live with the drop-in, for every provider alike.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from failover.compat._errors import Reply, S3Error
from failover.compat._s3._shapes import failover_errors
from failover.compat._s3.providers import Outcome
from failover.compat._sqs.attributes import invalid
from failover.compat._sqs.backend import DEFAULT_ATTRIBUTES, QueueBackend
from failover.compat._sqs.counts import COUNTED, summed
from failover.compat._sqs.providers import delete_queue as delete_on
from failover.compat._sqs.providers import list_queues as list_on

__all__ = ["QUEUES", "check_attributes", "list_queues"]

_SETTABLE = frozenset({*DEFAULT_ATTRIBUTES, "Policy", "RedrivePolicy", "KmsMasterKeyId", "ContentBasedDeduplication"})
_AT_CREATION = frozenset({"FifoQueue"})
_RANGES = {
    "VisibilityTimeout": (0, 43200),
    "DelaySeconds": (0, 900),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "MaximumMessageSize": (1024, 1048576),
    "MessageRetentionPeriod": (60, 1209600),
}


def check_attributes(attributes: Mapping[str, str], *, creating: bool) -> None:
    """SQS's checks of queue attributes, before any provider is called."""
    for name, value in attributes.items():
        if name not in _SETTABLE and not (creating and name in _AT_CREATION):
            raise invalid(f"Unknown Attribute {name}.", "InvalidAttributeName")
        if name in _RANGES:
            low, high = _RANGES[name]
            if not str(value).isdigit() or not low <= int(value) <= high:
                raise invalid(f"Invalid value for the parameter {name}.", "InvalidAttributeValue")


def create_queue(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    return Reply({"QueueUrl": backend.url})


def get_queue_url(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    return Reply({"QueueUrl": backend.url})


def get_queue_attributes(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    names = list(params.get("AttributeNames") or [])
    known = {
        **backend.attributes,
        "QueueArn": f"arn:aws:sqs:failover:{backend.url.rstrip('/').split('/')[-2]}:{backend.name}",
    }
    if backend.fifo:
        known["FifoQueue"] = "true"
    for name in names:
        if name != "All" and name not in known and name not in COUNTED:
            raise invalid(f"Unknown Attribute {name}.", "InvalidAttributeName")
    if "All" in names or any(name in COUNTED for name in names):
        known.update(summed(backend.counters))
    chosen = known if "All" in names else {name: known[name] for name in names if name in known}
    return Reply({"Attributes": chosen} if chosen else {})


def set_queue_attributes(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    attributes = dict(params.get("Attributes") or {})
    check_attributes(attributes, creating=False)
    backend.attributes.update(attributes)
    return Reply({})


PURGE_SECONDS = 30.0


def purge_queue(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    """Receive and delete until every provider answers with nothing (SQS purges asynchronously too;
    messages in flight with other consumers are not purged)."""
    deadline = time.monotonic() + PURGE_SECONDS
    with failover_errors(not_found="QueueDoesNotExist"):
        while time.monotonic() < deadline:
            messages = backend.queue.receive(10, wait=0.0, visibility=60.0)
            if not messages:
                break
            for message in messages:
                backend.queue.ack(message)
    return Reply({})


def deleted(endpoint: Any) -> bool:
    """Delete the queue ``endpoint`` names; False when the provider did not answer (try again later)."""
    return delete_on(endpoint) is not Outcome.UNREACHABLE


def delete_queue(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    """Delete the queue on every provider of its mapping; one that is down, when it answers again."""
    outcomes = [delete_on(endpoint) for endpoint in backend.endpoints]
    if outcomes and all(outcome is Outcome.UNREACHABLE for outcome in outcomes):
        raise S3Error("ServiceUnavailable", 503, f"no provider could delete the queue {backend.name!r}")
    missed = {i: backend.endpoints[i] for i, outcome in enumerate(outcomes) if outcome is Outcome.UNREACHABLE}
    if missed and backend.owed is not None:
        backend.owed.add(backend.name, missed, deleted)
    return Reply({})


def list_queues(backends: Any, params: Mapping[str, Any]) -> Reply:
    """The queues each mapped account holds, by the application's name, that start with the prefix."""
    prefix = str(params.get("QueueNamePrefix") or "")
    found: set[str] = set(backends.given())
    answered = False
    for account, logical_of in backends.names.queue_accounts() if backends.names is not None else []:
        listed = list_on(account)
        if listed is None:
            continue
        answered = True
        found.update(name for name in map(logical_of, listed) if name is not None)
    if not answered and backends.names is not None:
        raise S3Error("ServiceUnavailable", 503, "no provider answered ListQueues")
    urls = [backends.url(name) for name in sorted(found) if name.startswith(prefix)]
    limit = params.get("MaxResults")
    if isinstance(limit, int):
        urls = urls[:limit]
    return Reply({"QueueUrls": urls} if urls else {})


QUEUES = {
    "DeleteQueue": delete_queue,
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "PurgeQueue": purge_queue,
}

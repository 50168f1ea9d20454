"""Queue calls the `MessageQueue` Protocol does not have, on each provider's own SDK: delete a queue,
and list the queues an account holds. The drop-in's DeleteQueue and ListQueues act on every
provider of a mapping with these; the clients are built from the same queue configurations as the
mapped names' queues (and their emulator endpoints).

On Pub/Sub a queue is a topic and its subscription (and the dead-letter pair the adapter made);
a listing names the subscriptions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from failover.compat._s3.providers import Outcome
from failover.config import AzureQueueConfig, PubSubConfig, SqsConfig

__all__ = ["delete_queue", "list_queues"]

log = logging.getLogger(__name__)
TIMEOUT = 5.0
_USER = "the drop-in's queue calls"
_DEAD_LETTER = "-dead-letter"  # the suffix the Pub/Sub adapter gives its dead-letter topic and subscription


def delete_queue(config: Any) -> Outcome:
    try:
        _DELETE[config.kind](config)
    except Exception as exc:
        if _missing(exc):
            return Outcome.MISSING
        log.warning("DeleteQueue: %s not deleted on %s now: %s", config.name or config.kind, config.kind, exc)
        return Outcome.UNREACHABLE
    return Outcome.DONE


def list_queues(config: Any) -> list[str] | None:
    """The queue names of the account ``config`` reaches; None when the provider does not answer."""
    try:
        return _LIST[config.kind](config)
    except Exception as exc:
        log.warning("ListQueues: %s did not answer: %s", config.kind, exc)
        return None


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return "NonExistentQueue" in str(error.get("Code")) or error.get("QueryErrorCode") == "QueueDoesNotExist"
    return getattr(exc, "code", None) == 404 or getattr(exc, "status_code", None) == 404


def _sqs(config: SqsConfig) -> Any:
    from failover.adapters.aws._client import ClientCache

    return ClientCache(config, "sqs", user=_USER).get(TIMEOUT)


def _delete_sqs(config: SqsConfig) -> None:
    client = _sqs(config)
    client.delete_queue(QueueUrl=client.get_queue_url(QueueName=config.queue)["QueueUrl"])


def _list_sqs(config: SqsConfig) -> list[str]:
    client, names, token = _sqs(config), [], None
    while True:
        page = client.list_queues(MaxResults=1000, **({"NextToken": token} if token else {}))
        names += [url.rstrip("/").rsplit("/", 1)[-1] for url in page.get("QueueUrls", [])]
        token = page.get("NextToken")
        if not token:
            return names


def _pubsub(config: PubSubConfig) -> tuple[Any, Any, str]:
    from failover.adapters.gcp._project import resolve_project
    from failover.adapters.gcp.pubsub import _make_clients  # the adapter's own clients, emulator included

    publisher, subscriber = _make_clients(config)
    return publisher, subscriber, f"projects/{resolve_project(config.project, user=_USER)}"


def _delete_pubsub(config: PubSubConfig) -> None:
    from google.api_core.exceptions import NotFound

    publisher, subscriber, project = _pubsub(config)
    subscription, topic = f"{project}/subscriptions/{config.subscription}", f"{project}/topics/{config.topic}"
    subscriber.delete_subscription(request={"subscription": subscription}, timeout=TIMEOUT)
    with contextlib.suppress(NotFound):
        publisher.delete_topic(request={"topic": topic}, timeout=TIMEOUT)
    for dead in (subscription + _DEAD_LETTER, topic + _DEAD_LETTER):
        with contextlib.suppress(NotFound):
            if "/subscriptions/" in dead:
                subscriber.delete_subscription(request={"subscription": dead}, timeout=TIMEOUT)
            else:
                publisher.delete_topic(request={"topic": dead}, timeout=TIMEOUT)


def _list_pubsub(config: PubSubConfig) -> list[str]:
    _, subscriber, project = _pubsub(config)
    names = [s.name.rsplit("/", 1)[-1] for s in subscriber.list_subscriptions(request={"project": project})]
    return [name for name in names if not name.endswith(_DEAD_LETTER)]


def _azure(config: AzureQueueConfig) -> Any:
    from failover.adapters._sdk import require
    from failover.adapters.azure._client import client_options, resolve_connection

    sdk = require("azure.storage.queue", extra="azure", user=_USER)
    return resolve_connection(config, user=_USER).client(sdk.QueueServiceClient, **client_options(config))


def _delete_azure(config: AzureQueueConfig) -> None:
    with _azure(config) as service:
        service.delete_queue(config.queue, timeout=int(TIMEOUT))


def _list_azure(config: AzureQueueConfig) -> list[str]:
    with _azure(config) as service:
        return [queue.name for queue in service.list_queues(timeout=int(TIMEOUT))]


_DELETE: dict[str, Callable[[Any], None]] = {"sqs": _delete_sqs, "pubsub": _delete_pubsub, "azure_queue": _delete_azure}
_LIST: dict[str, Callable[[Any], list[str]]] = {"sqs": _list_sqs, "pubsub": _list_pubsub, "azure_queue": _list_azure}

"""GetQueueAttributes's approximate counts, summed over the providers of a queue name that report them.

- SQS: ``ApproximateNumberOfMessages``, ``...NotVisible`` and ``...Delayed``, as SQS answers them.
- Azure Queue: ``approximate_message_count`` of the queue's properties. Azure counts every message,
  visible or not, so the whole count goes to ``ApproximateNumberOfMessages``.
- Pub/Sub: nothing. Its API has no count of a subscription's messages; Cloud Monitoring's
  ``subscription/num_undelivered_messages`` is a metric sampled each minute (and absent from the
  emulator), so messages held on Pub/Sub are not in the sums.

A provider that does not answer within `TIMEOUT` is left out of the sums (the counts are
approximate on SQS too); each counter is built once per queue name from the same endpoint
configuration as the name's `FailoverQueue`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from failover.config import AzureQueueConfig, SqsConfig

__all__ = ["COUNTED", "Counter", "counter_of", "summed"]

log = logging.getLogger(__name__)

COUNTED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
TIMEOUT = 2.0
Counter = Callable[[], dict[str, int]]
"""The counts one provider reports for its queue (only the names it knows)."""


def counter_of(endpoint: Any) -> Counter | None:
    """The counter of one provider's queue; None for a provider that cannot count (Pub/Sub)."""
    if isinstance(endpoint, SqsConfig):
        return _SqsCounter(endpoint)
    if isinstance(endpoint, AzureQueueConfig):
        return _AzureCounter(endpoint)
    return None


def summed(counters: Iterable[Counter]) -> dict[str, str]:
    """Each counted attribute summed over the counters that answer, as SQS's strings."""
    totals = dict.fromkeys(COUNTED, 0)
    for count in counters:
        try:
            for name, value in count().items():
                totals[name] += value
        except Exception as exc:  # a provider that is down is left out, as documented above
            log.debug("GetQueueAttributes: a provider's counts are left out: %s", exc)
    return {name: str(value) for name, value in totals.items()}


class _SqsCounter:
    def __init__(self, config: SqsConfig) -> None:
        from failover.adapters.aws._client import ClientCache

        self._config = config
        self._clients = ClientCache(config, "sqs", user="the drop-in's queue counts")
        self._url: str | None = None

    def __call__(self) -> dict[str, int]:
        client = self._clients.get(TIMEOUT)
        if self._url is None:
            self._url = str(client.get_queue_url(QueueName=self._config.queue)["QueueUrl"])
        attributes = client.get_queue_attributes(QueueUrl=self._url, AttributeNames=list(COUNTED))["Attributes"]
        return {name: int(attributes.get(name, 0)) for name in COUNTED}


class _AzureCounter:
    def __init__(self, config: AzureQueueConfig) -> None:
        self._config = config
        self._client: Any = None

    def __call__(self) -> dict[str, int]:
        from failover.adapters.azure._client import call_timeouts

        if self._client is None:
            self._client = self._build()
        properties = self._client.get_queue_properties(**call_timeouts(self._config, TIMEOUT))
        return {"ApproximateNumberOfMessages": int(properties.approximate_message_count or 0)}

    def _build(self) -> Any:
        from failover.adapters._sdk import require
        from failover.adapters.azure._client import client_options, resolve_connection

        sdk = require("azure.storage.queue", extra="azure", user="the drop-in's queue counts")
        connection = resolve_connection(self._config, user="the drop-in's queue counts")
        return connection.client(sdk.QueueClient, self._config.queue, **client_options(self._config))

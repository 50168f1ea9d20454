"""Queue adapters and the dedup window from configuration, and the probe that asks a DOWN queue whether it is back."""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from failover.config import AzureQueueConfig, PubSubConfig, QueueConfig, SqsConfig
from failover.errors import ConfigError
from failover.interfaces import MessageQueue
from failover.replication.dedup import DedupWindow, SqliteDedupWindow

__all__ = ["DedupSpec", "SupportsProbe", "dedup_window", "probe_queue", "queue_from_config"]

DedupSpec = DedupWindow | str | os.PathLike[str] | None
"""What turns a `FailoverQueue`'s dedup window on: a `DedupWindow`, or the path of its SQLite file."""

PROBE_VISIBILITY = 1.0
"""Seconds a message taken by a probe stays hidden if the probe cannot hand it back (its nack fails)."""


@runtime_checkable
class SupportsProbe(Protocol):
    """A queue with a call cheaper than a receive to prove it is reachable (its attributes)."""

    def probe(self, *, timeout: float | None = None) -> object: ...


def probe_queue(queue: MessageQueue, timeout: float) -> None:
    """The engine's probe of a DOWN queue: its own `probe` if it has one, else a receive of one message.

    A message the receive took is handed back at once (``nack``, no delay): the probe costs it one
    delivery count, and that only while the queue is DOWN, at the prober's backoff. It is taken with a
    short visibility, so that a probe whose answer is lost (a hang that ends) hides it only briefly.
    """
    if isinstance(queue, SupportsProbe):
        queue.probe(timeout=timeout)
        return
    for message in queue.receive(1, wait=0.0, visibility=PROBE_VISIBILITY, timeout=timeout):
        queue.nack(message, timeout=timeout)


def dedup_window(spec: DedupSpec, ttl: float) -> DedupWindow | None:
    """The dedup window ``spec`` names: itself, a `SqliteDedupWindow` at a path (one file every
    process of the application shares), or None (no window: duplicates reach the application)."""
    if spec is None or isinstance(spec, str | os.PathLike):
        if spec is None or not os.fspath(spec):
            return None
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise ConfigError(f"dedup_ttl is seconds > 0, not {ttl!r}", field="dedup_ttl")
        return SqliteDedupWindow(spec, ttl)
    return spec


def queue_from_config(config: QueueConfig) -> MessageQueue:
    """The adapter ``config`` describes (its SDK imported now, not before)."""
    # Imported here: the adapters' modules are light, but this keeps `failover.queue` free of them.
    if isinstance(config, SqsConfig):
        from failover.adapters.aws import SqsQueue

        return SqsQueue(config)
    if isinstance(config, PubSubConfig):
        from failover.adapters.gcp import PubSubQueue

        return PubSubQueue(config)
    if isinstance(config, AzureQueueConfig):
        from failover.adapters.azure import AzureQueue

        return AzureQueue(config)
    raise ConfigError(f"no queue adapter for {type(config).__name__}", field="queues")

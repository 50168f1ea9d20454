"""Brownouts of a queue: latency estimates for the idle queues, so that a slow one can be demoted.

The health registry marks an endpoint DEGRADED when its latency average is far above a peer's, and
only compares endpoints with enough samples (``DegradedPolicy.min_samples``). A storage set gets
them from replication; a queue set does not: sends go to the first queue, the others stay idle and
unmeasured, and a queue whose sends slow down had no peer to be compared with. So when a queue that
just took a send is measured slower than the policy's floor, each available peer short of samples
is measured in the background with its probe (a cheap call: SQS's queue attributes, Azure Queue's
properties), once per missing sample, and each latency is recorded with the engine. A healthy set
(every call under the floor) makes no such call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from failover.engine import Engine
from failover.errors import FailoverError
from failover.interfaces import MessageQueue

__all__ = ["PeerSampler"]

logger = logging.getLogger("failover.queue")


class PeerSampler:
    """Measures idle queues when another one turns slow. Thread-safe."""

    def __init__(self, engine: Engine[MessageQueue], probe: Callable[[MessageQueue, float], object]) -> None:
        self._engine = engine
        self._probe = probe
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False

    def after_call(self, name: str) -> None:
        """``name`` just answered a send: measure its peers if it looks slow and they are unmeasured."""
        policy = self._engine.settings.degraded
        tracker = self._engine.health[name]
        ewma = tracker.ewma
        if not policy.enabled or ewma is None or ewma <= policy.floor:
            return
        for peer in self._engine.names:
            if peer == name or not self._engine.is_available(peer):
                continue
            missing = policy.min_samples - self._engine.health[peer].latency_samples
            if missing <= 0:
                continue
            with self._lock:
                if self._closed or peer in self._busy:
                    continue
                self._busy.add(peer)
            try:
                self._engine.executor.submit(self._sample, peer, missing)
            except RuntimeError:  # the executor is shut down: the queue is closing
                with self._lock:
                    self._busy.discard(peer)

    def _sample(self, peer: str, count: int) -> None:
        adapter = self._engine.endpoints[peer].adapter
        clock = self._engine.clock
        timeout = self._engine.settings.probe_timeout
        try:
            for _ in range(count):
                if self._closed:
                    return
                started = clock.monotonic()
                try:
                    self._probe(adapter, timeout)
                except FailoverError as exc:
                    # Not recorded as a failure: a measurement is not traffic, and the next call tells.
                    logger.debug("measuring %s failed: %s", peer, exc)
                    return
                self._engine.record(peer, clock.monotonic() - started)
        finally:
            with self._lock:
                self._busy.discard(peer)

    def close(self) -> None:
        with self._lock:
            self._closed = True

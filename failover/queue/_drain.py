"""Which queues `FailoverQueue.receive` must drain besides the one it long-polls.

A queue that took a message (or may have: a send whose outcome is unknown) is marked, and stays
marked until a receive finds it empty. A count of writes per queue guards the unmarking: a send that
lands while the emptying receive is on the wire bumps the count, so that queue stays marked. Every
``interval`` seconds a sweep drains every queue once, for messages this process did not send (another
producer's failover, a copy left by a crashed consumer); a queue in which it finds any is marked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from failover.clock import Clock

__all__ = ["DrainSet"]


class DrainSet:
    """The queues that may hold messages, and when the next full sweep is due. Thread-safe."""

    def __init__(self, names: Iterable[str], clock: Clock, interval: float | None) -> None:
        self._writes = dict.fromkeys(names, 0)
        self._marked: set[str] = set()
        self._clock = clock
        self._interval = interval
        self._next_sweep = clock.monotonic() + interval if interval is not None else None
        self._lock = threading.Lock()

    def wrote(self, name: str) -> None:
        """``name`` took a message, or may have."""
        with self._lock:
            self._writes[name] += 1
            self._marked.add(name)

    def writes(self, name: str) -> int:
        """A token to pass to `came_back_empty`: read it before the receive."""
        with self._lock:
            return self._writes[name]

    def found_messages(self, name: str) -> None:
        """A receive from ``name`` found messages: it may hold more (a sweep found another producer's
        backlog), so it is drained on every receive until one finds it empty."""
        with self._lock:
            self._marked.add(name)

    def came_back_empty(self, name: str, writes_before: int) -> None:
        """A receive from ``name``, begun when its count was ``writes_before``, found nothing."""
        with self._lock:
            if self._writes[name] == writes_before:
                self._marked.discard(name)

    @property
    def marked(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._marked)

    def sweep_due(self) -> bool:
        """Whether a full sweep is due now; answers True once per interval."""
        if self._next_sweep is None or self._interval is None:
            return False
        now = self._clock.monotonic()
        with self._lock:
            if now < self._next_sweep:
                return False
            self._next_sweep = now + self._interval
            return True

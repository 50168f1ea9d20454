"""A token bucket on an injected clock: how fast replication may write to a recovering store."""

from __future__ import annotations

import threading

from failover.clock import Clock

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; thread-safe.

    `reserve` takes a token and says how long to wait before using it, so the caller decides how to
    wait (the replicator's background thread must stay stoppable while it waits).
    """

    def __init__(self, rate: float, *, burst: float | None = None, clock: Clock) -> None:
        if rate <= 0:
            raise ValueError(f"rate is a number of operations a second > 0, not {rate!r}")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock.monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; the seconds to wait before it may be used (0 when one was saved up)."""
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            # A negative balance is the queue of callers already waiting for future tokens.
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        """Take one token, sleeping on the clock until it is available."""
        wait = self.reserve()
        if wait > 0:
            self._clock.sleep(wait)

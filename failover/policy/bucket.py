"""A token bucket on an injected clock: the one rate limiter of the library.

Replication paces its writes to a recovering store with it (`reserve`, then a stoppable wait); the
retry and hedge budgets (`failover.policy.budget`) draw their time-refilled reserve from one
(`try_take`, never waiting).
"""

from __future__ import annotations

import threading

from failover.clock import Clock
from failover.errors import ConfigError

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; thread-safe.

    `reserve` takes a token and says how long to wait before using it, so the caller decides how to
    wait (the replicator's background thread must stay stoppable while it waits).
    """

    def __init__(self, rate: float, *, burst: float | None = None, clock: Clock) -> None:
        if rate <= 0:
            raise ConfigError(f"rate is a number of operations a second > 0, not {rate!r}", field="rate")
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

    def try_take(self) -> bool:
        """Take one token if one is saved up now; False, and nothing taken, if none is."""
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    @property
    def tokens(self) -> float:
        """Tokens saved up as of the last take (not refilled by reading)."""
        with self._lock:
            return max(self._tokens, 0.0)

    def acquire(self) -> None:
        """Take one token, sleeping on the clock until it is available."""
        wait = self.reserve()
        if wait > 0:
            self._clock.sleep(wait)

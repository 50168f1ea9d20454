"""Every call has a deadline; each attempt gets at most the time that is left.

A `Deadline` starts when a call starts (default `DEFAULT_DEADLINE` seconds, overridable per call).
Each attempt's timeout is ``min(per_attempt, remaining)``, and no attempt (a retry or a failover to
the next provider) is started with less than `DEFAULT_FLOOR` left: it could only time out, and it
would hold the caller past the deadline while doing so.
"""

from __future__ import annotations

from typing import Final

from failover.clock import Clock, SystemClock
from failover.errors import ConfigError

__all__ = ["DEFAULT_DEADLINE", "DEFAULT_FLOOR", "Deadline"]

DEFAULT_DEADLINE: Final = 10.0
"""Seconds a call may take, retries and failovers included, unless the call says otherwise."""

DEFAULT_FLOOR: Final = 0.05
"""Seconds that must be left to start another attempt."""

_SYSTEM_CLOCK: Final = SystemClock()


class Deadline:
    """The time one call may still take, read from an injected clock.

    ``Deadline(timeout)`` starts now; ``Deadline(None)`` takes the default. ``floor`` is the least time
    worth starting an attempt with.
    """

    __slots__ = ("_clock", "_expires_at", "floor", "seconds")

    def __init__(
        self,
        seconds: float | None = None,
        clock: Clock = _SYSTEM_CLOCK,
        *,
        floor: float = DEFAULT_FLOOR,
    ) -> None:
        if seconds is None:
            seconds = DEFAULT_DEADLINE
        if not seconds > 0:
            raise ConfigError(f"a deadline must be positive, not {seconds!r}", field="timeout")
        self.seconds = seconds
        self.floor = floor
        self._clock = clock
        self._expires_at = clock.monotonic() + seconds

    @property
    def clock(self) -> Clock:
        return self._clock

    def remaining(self) -> float:
        """Seconds left, never negative."""
        left = self._expires_at - self._clock.monotonic()
        return left if left > 0.0 else 0.0

    @property
    def expired(self) -> bool:
        return self._clock.monotonic() >= self._expires_at

    def attempt_timeout(self, per_attempt: float | None = None) -> float:
        """The timeout for the next attempt: ``per_attempt`` or what is left, whichever is shorter."""
        left = self.remaining()
        if per_attempt is None or per_attempt > left:
            return left
        return per_attempt

    def can_start_attempt(self, after: float = 0.0) -> bool:
        """Whether an attempt started ``after`` seconds from now would have at least ``floor`` left."""
        return self.remaining() - after >= self.floor

    def __repr__(self) -> str:
        return f"Deadline(seconds={self.seconds}, remaining={self.remaining():.3f})"

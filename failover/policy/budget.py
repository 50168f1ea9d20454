"""Token budgets that cap extra requests (retries, hedges) to a fraction of the real ones.

The shape is botocore's retry quota and Finagle's ``RetryBudget``: every request deposits ``ratio``
of a token, every extra request withdraws a whole one, so that over time extras are at most ``ratio``
of the traffic. A small reserve, a `TokenBucket` refilled at ``min_per_second``, lets a quiet
endpoint retry at all. With the retry defaults (10%, 10 a second, 2 attempts) a provider that fails
every call sees its request rate times ``min(2, 1.1 + 10 / rate)``: 1.11x at 1,000 requests a
second, 1.2x at 100, 2x at 10 or fewer (the reserve then funds a retry of every call).
Either way the breaker opens after a few failures in a row and then only probes reach the provider,
so one sick provider cannot start a retry storm. Deposits are capped (``capacity``), so a long quiet
spell does not bank a burst.
"""

from __future__ import annotations

import threading
from typing import Final

from failover.clock import Clock, SystemClock
from failover.errors import ConfigError
from failover.policy.bucket import TokenBucket

__all__ = ["RequestBudget", "RetryBudget"]

_SYSTEM_CLOCK: Final = SystemClock()


class RequestBudget:
    """A thread-safe token bucket: requests deposit ``ratio`` tokens, each extra request spends one.

    ``capacity`` caps the tokens earned from requests; the time-refilled reserve holds at most one
    second's worth of ``min_per_second`` and starts full.
    """

    __slots__ = ("_earned", "_lock", "_reserve", "capacity", "min_per_second", "ratio")

    def __init__(
        self,
        ratio: float = 0.1,
        *,
        min_per_second: float = 10.0,
        capacity: float = 100.0,
        clock: Clock = _SYSTEM_CLOCK,
    ) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"a budget ratio is between 0 and 1, not {ratio!r}", field="ratio")
        if min_per_second < 0 or capacity < 0:
            raise ConfigError("a budget's min_per_second and capacity are not negative", field="capacity")
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.capacity = capacity
        self._lock = threading.Lock()
        self._earned = 0.0
        self._reserve = TokenBucket(min_per_second, burst=min_per_second, clock=clock) if min_per_second else None

    def record_request(self) -> None:
        """One request was made (the first attempt of a call): deposit ``ratio`` tokens."""
        with self._lock:
            earned = self._earned + self.ratio
            self._earned = earned if earned < self.capacity else self.capacity

    def try_spend(self) -> bool:
        """Withdraw one token for an extra request; False, and nothing withdrawn, if there is none."""
        with self._lock:
            if self._earned >= 1.0:
                self._earned -= 1.0
                return True
        return self._reserve is not None and self._reserve.try_take()

    @property
    def available(self) -> float:
        """Tokens that could be spent now (earned plus reserve, the reserve as of its last refill)."""
        with self._lock:
            earned = self._earned
        return earned + (self._reserve.tokens if self._reserve is not None else 0.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ratio={self.ratio}, available={self.available:.2f})"


class RetryBudget(RequestBudget):
    """The per-provider retry budget: retries at most 10% of requests, plus 10 a second at least.

    Give each provider its own: a dead provider must not spend the healthy ones' retries.
    """

    __slots__ = ()

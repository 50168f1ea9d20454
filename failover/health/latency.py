"""Latency of one endpoint's successful calls: an EWMA and a p95 over the last samples.

Cheap to update (a multiply-add and a slot write); the p95 sorts the ring buffer (128 samples) only
when it is asked for and at least ``refresh_every`` samples came since it was last computed, so a
hedging read that asks for it on every call pays the sort rarely. Not locked: its owner (a
`HealthTracker`) holds its lock around updates.
"""

from __future__ import annotations

import math

from failover.errors import ConfigError

__all__ = ["LatencyStats"]


class LatencyStats:
    """EWMA (weight ``alpha`` for each new sample) and p95 of the last ``window`` latencies, in seconds."""

    __slots__ = ("_count", "_next", "_p95", "_p95_at", "_samples", "alpha", "ewma", "refresh_every", "window")

    def __init__(self, alpha: float = 0.2, window: int = 128, refresh_every: int = 8) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ConfigError(f"an EWMA weight is in (0, 1], not {alpha!r}", field="alpha")
        if window < 1:
            raise ConfigError(f"a latency window holds at least one sample, not {window!r}", field="window")
        self.alpha = alpha
        self.window = window
        self.refresh_every = max(1, refresh_every)
        self.ewma: float | None = None
        self._samples: list[float] = []
        self._next = 0
        self._count = 0
        self._p95: float | None = None
        self._p95_at = 0

    @property
    def count(self) -> int:
        """Samples recorded since the last reset."""
        return self._count

    def add(self, latency: float) -> None:
        ewma = self.ewma
        self.ewma = latency if ewma is None else ewma + self.alpha * (latency - ewma)
        if len(self._samples) < self.window:
            self._samples.append(latency)
        else:
            self._samples[self._next] = latency
            self._next = (self._next + 1) % self.window
        self._count += 1

    @property
    def p95(self) -> float | None:
        """The 95th percentile of the last ``window`` samples (nearest rank), None before any."""
        if not self._samples:
            return None
        if self._p95 is None or self._count - self._p95_at >= self.refresh_every:
            ordered = sorted(self._samples)
            self._p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
            self._p95_at = self._count
        return self._p95

    def reset(self) -> None:
        self.ewma = None
        self._samples = []
        self._next = 0
        self._count = 0
        self._p95 = None
        self._p95_at = 0

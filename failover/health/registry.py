"""The trackers of one set of endpoints (one per FailoverStorage or FailoverQueue), and brownouts.

A `HealthRegistry` holds a `HealthTracker` per endpoint name, in configured order, sharing one clock,
one `HealthStore` and one `HealthEvents`. It decides DEGRADED, which needs the peers: an endpoint whose
latency EWMA is above ``factor`` times the best peer's and above an absolute ``floor`` is DEGRADED
(still served, routed after the others). Like an ejected host in Envoy's outlier detection it gets a
fresh chance: after ``hold`` seconds, or as soon as its EWMA is back under ``recover_factor`` times the
best peer's, it is HEALTHY again with its latency re-measured (a demoted endpoint gets little traffic,
so its EWMA would otherwise stay stale forever). The check runs every few successes of any endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from failover.clock import Clock, SystemClock
from failover.errors import ConfigError
from failover.health.events import HealthEvents
from failover.health.store import HealthState, HealthStore, InMemoryHealthStore
from failover.health.tracker import HealthPolicy, HealthTracker

__all__ = ["DegradedPolicy", "HealthRegistry"]

_SYSTEM_CLOCK: Final = SystemClock()


@dataclass(frozen=True, slots=True)
class DegradedPolicy:
    """When an endpoint counts as far slower than its peers (a brownout)."""

    factor: float = 3.0  # EWMA above factor x the best peer's EWMA ...
    floor: float = 0.1  # ... and above this many seconds
    recover_factor: float = 2.0  # HEALTHY again below recover_factor x the best peer's EWMA
    min_samples: int = 20  # successes an endpoint needs before its EWMA is compared
    hold: float = 30.0  # seconds DEGRADED before it is re-measured
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 1.0 <= self.recover_factor <= self.factor:
            raise ConfigError("1 <= recover_factor <= factor, so that DEGRADED does not flap", field="recover_factor")
        if self.floor < 0 or self.min_samples < 1 or not self.hold > 0:
            raise ConfigError("floor is not negative, min_samples at least 1, hold positive", field="degraded")


class HealthRegistry:
    """One `HealthTracker` per endpoint, in configured order."""

    def __init__(
        self,
        endpoints: Iterable[str],
        *,
        policy: HealthPolicy | None = None,
        degraded: DegradedPolicy | None = None,
        clock: Clock = _SYSTEM_CLOCK,
        store: HealthStore | None = None,
        events: HealthEvents | None = None,
    ) -> None:
        self.clock = clock
        self.store: HealthStore = store if store is not None else InMemoryHealthStore()
        self.events = events if events is not None else HealthEvents()
        self.degraded = degraded if degraded is not None else DegradedPolicy()
        self._trackers: dict[str, HealthTracker] = {}
        for name in endpoints:
            if name in self._trackers:
                raise ConfigError(f"endpoint name {name!r} is used twice", field="name")
            tracker = HealthTracker(name, policy=policy, clock=clock, store=self.store, events=self.events)
            if self.degraded.enabled:
                tracker.sample_hook = self.evaluate_degraded
            self._trackers[name] = tracker
        self.names: tuple[str, ...] = tuple(self._trackers)
        self._evaluating = threading.Lock()

    @property
    def generation(self) -> int:
        """Changes whenever an endpoint's state changes: a router caches its order until then."""
        return self.events.generation

    def __getitem__(self, name: str) -> HealthTracker:
        return self._trackers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._trackers

    def __iter__(self) -> Iterator[HealthTracker]:
        return iter(self._trackers.values())

    def __len__(self) -> int:
        return len(self._trackers)

    def states(self) -> dict[str, HealthState]:
        return {name: tracker.state for name, tracker in self._trackers.items()}

    def failed_over(self, from_endpoint: str, to_endpoint: str | None, operation: str, error: BaseException) -> None:
        """Tell the listeners that ``operation`` left ``from_endpoint`` because of ``error``."""
        self.events.failed_over(from_endpoint, to_endpoint, operation, error)

    def evaluate_degraded(self) -> None:
        """Mark endpoints far slower than their peers DEGRADED, and give DEGRADED ones a new chance."""
        if not self._evaluating.acquire(blocking=False):
            return  # another thread is at it
        try:
            self._evaluate(self.clock.monotonic())
        finally:
            self._evaluating.release()

    def _evaluate(self, now: float) -> None:
        policy = self.degraded
        measured: dict[str, float] = {}
        for tracker in self._trackers.values():
            ewma = tracker.ewma
            if ewma is not None and tracker.latency_samples >= policy.min_samples:
                measured[tracker.name] = ewma
        for tracker in self._trackers.values():
            record = tracker.record
            if record.state not in (HealthState.HEALTHY, HealthState.DEGRADED):
                continue
            peers = [(ewma, name) for name, ewma in measured.items() if name != tracker.name]
            own = measured.get(tracker.name)
            best = min(peers) if peers else None
            if record.state is HealthState.HEALTHY:
                if own is not None and best is not None and own > policy.floor and own > policy.factor * best[0]:
                    tracker.set_degraded(
                        True, f"EWMA {own * 1000:.0f} ms, over {policy.factor:g}x {best[1]}'s {best[0] * 1000:.0f} ms"
                    )
            elif now - record.since >= policy.hold:
                tracker.set_degraded(False, f"DEGRADED for {policy.hold:g} s: re-measuring")
            elif own is not None and (own <= policy.floor or best is None or own <= policy.recover_factor * best[0]):
                tracker.set_degraded(False, f"EWMA back to {own * 1000:.0f} ms")

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={tracker.state.value}" for name, tracker in self._trackers.items())
        return f"HealthRegistry({states})"

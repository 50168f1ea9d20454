"""The trackers of one set of endpoints (one per FailoverStorage or FailoverQueue), and brownouts.

A `HealthRegistry` holds a `HealthTracker` per endpoint name, in configured order, sharing one clock,
one `HealthStore` and one `HealthEvents`. It decides DEGRADED, which needs the peers: an endpoint
whose latency EWMA or p95 is above ``factor`` times the best peer's and above an absolute ``floor``
is DEGRADED (still served, routed after the others), and it recovers only when both are back under
``recover_factor`` times the best peer's.

Why both: the EWMA (weight 0.2) reacts to the first slow call, but in a brownout where a third of
the calls wait 0.7 s it swings back under the threshold after a few fast ones (background copies
keep feeding it), so an EWMA alone let the endpoint back in and out (issue 9 measured it demoted
for 0.1 to 1.9 s of 15 s, read p99 at the slow calls' 0.7 s); the p95 of the last 128 calls stays
high as long as more than one call in twenty is slow, and low when none is.

Like an ejected host in Envoy's outlier detection a DEGRADED endpoint gets a fresh chance: after
``hold`` seconds, or as soon as its p95 (from background calls) is back under ``recover_factor``
times the best peer's, it is HEALTHY again with its latency re-measured (a demoted endpoint gets
little traffic, so its latency would otherwise stay stale forever). Hysteresis: for ``hold`` seconds
after a re-measure, one call slower than the threshold demotes it again and doubles its next hold
(up to ``max_hold``), so a lasting brownout costs one slow call per hold, not the ``min_samples``
a first demotion needs. The check runs every few successes of any endpoint and after each success
slower than ``floor``.
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

    factor: float = 3.0  # p95 above factor x the best peer's p95 ...
    floor: float = 0.1  # ... and above this many seconds
    recover_factor: float = 2.0  # HEALTHY again below recover_factor x the best peer's p95
    min_samples: int = 20  # successes an endpoint needs before its p95 is compared
    hold: float = 30.0  # seconds DEGRADED before it is re-measured (and on probation after)
    max_hold: float = 240.0  # the hold doubles with each demotion on probation, up to this
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 1.0 <= self.recover_factor <= self.factor:
            raise ConfigError("1 <= recover_factor <= factor, so that DEGRADED does not flap", field="recover_factor")
        if self.floor < 0 or self.min_samples < 1 or not 0 < self.hold <= self.max_hold:
            raise ConfigError("floor is not negative, min_samples at least 1, 0 < hold <= max_hold", field="degraded")


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
                tracker.slow_after = self.degraded.floor
            self._trackers[name] = tracker
        self.names: tuple[str, ...] = tuple(self._trackers)
        self._evaluating = threading.Lock()
        self._holds: dict[str, float] = {}  # the current hold of each endpoint demoted on probation
        self._probation_until: dict[str, float] = {}  # re-measured endpoints: one slow call demotes them

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
        # Per endpoint with enough samples: (p95, EWMA). The EWMA reacts to the first slow call, the
        # p95 stays high while more than one call in twenty is slow: either demotes, both must recover.
        measured: dict[str, tuple[float, float]] = {}
        for tracker in self._trackers.values():
            p95 = tracker.fresh_p95() if tracker.latency_samples >= policy.min_samples else None
            ewma = tracker.ewma
            if p95 is not None and ewma is not None:
                measured[tracker.name] = (p95, ewma)
        for tracker in self._trackers.values():
            name = tracker.name
            record = tracker.record
            if record.state not in (HealthState.HEALTHY, HealthState.DEGRADED):
                continue
            peers = [(latency, peer) for peer, latency in measured.items() if peer != name]
            own = measured.get(name)
            if record.state is HealthState.HEALTHY:
                if peers:
                    self._maybe_demote(tracker, own, peers, now)
            elif now - record.since >= (hold := self._holds.get(name, policy.hold)):
                if tracker.set_degraded(False, f"DEGRADED for {hold:g} s: re-measuring"):
                    self._probation_until[name] = now + hold
            elif (
                own is not None
                and (not peers or self._recovered(own, peers))
                and tracker.set_degraded(False, f"p95 back to {own[0] * 1000:.0f} ms")
            ):
                self._holds.pop(name, None)
                self._probation_until.pop(name, None)

    def _maybe_demote(
        self,
        tracker: HealthTracker,
        own: tuple[float, float] | None,
        peers: list[tuple[tuple[float, float], str]],
        now: float,
    ) -> None:
        policy = self.degraded
        best_p95, best_ewma = min(p95 for (p95, _), _ in peers), min(ewma for (_, ewma), _ in peers)
        threshold = max(policy.floor, policy.factor * best_p95)
        on_probation = now < self._probation_until.get(tracker.name, -1.0)
        last = tracker.last_latency
        if on_probation and last is not None and last > threshold:
            self._holds[tracker.name] = min(policy.max_hold, 2 * self._holds.get(tracker.name, policy.hold))
            tracker.set_degraded(
                True, f"a call took {last * 1000:.0f} ms while re-measured, over {threshold * 1000:.0f} ms"
            )
            return
        if own is None:
            return
        p95, ewma = own
        if p95 > threshold or ewma > max(policy.floor, policy.factor * best_ewma):
            if not on_probation:
                self._holds[tracker.name] = policy.hold
            tracker.set_degraded(
                True,
                f"p95 {p95 * 1000:.0f} ms, EWMA {ewma * 1000:.0f} ms; best peer's "
                f"{best_p95 * 1000:.0f} ms, {best_ewma * 1000:.0f} ms (factor {policy.factor:g})",
            )

    def _recovered(self, own: tuple[float, float], peers: list[tuple[tuple[float, float], str]]) -> bool:
        policy = self.degraded
        best_p95, best_ewma = min(p95 for (p95, _), _ in peers), min(ewma for (_, ewma), _ in peers)
        p95, ewma = own
        return (p95 <= policy.floor or p95 <= policy.recover_factor * best_p95) and (
            ewma <= policy.floor or ewma <= policy.recover_factor * best_ewma
        )

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={tracker.state.value}" for name, tracker in self._trackers.items())
        return f"HealthRegistry({states})"

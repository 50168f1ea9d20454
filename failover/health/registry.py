"""The trackers of one set of endpoints (one per FailoverStorage or FailoverQueue), and brownouts.

A `HealthRegistry` holds a `HealthTracker` per endpoint name, in configured order, sharing one clock,
one `HealthStore` and one `HealthEvents`. It decides DEGRADED (still served, routed after the others),
which needs the peers. A call is *slow* when it took more than ``factor`` times the best peer's p95
latency and more than an absolute ``floor``. A HEALTHY endpoint is DEGRADED when

- its latency EWMA is above ``factor`` times the best peer's EWMA and above ``floor`` (a brownout
  where most calls are slow shows at once), or
- at least ``slow_ratio`` of its timed successes in the health window (10 s) were slow, over at least
  ``min_samples`` of them, with slow ones in at least ``min_spread`` of the window's slots (seconds).

The second rule is the one a partial brownout trips and keeps tripped: with a third of the calls
0.7 s late, the EWMA (weight 0.2) swings back under the floor after two fast calls, while the slow
share of the window stays near a third. Two choices keep a healthy emulator on a loaded machine
HEALTHY: slow is measured against the peers' p95, not their EWMA, so that when the machine slows
every store down the bar rises with it; and the spread: a burst of slow calls (the first calls after
an outage, retried ones, a CPU spike) falls in one or two seconds, a brownout in every one. (A p95
over the endpoint's own last 128 calls was tried and reverted: one such burst of 7 calls moved it.)

Recovery, with hysteresis. A DEGRADED endpoint is HEALTHY again when its EWMA is back under
``recover_factor`` times the best peer's (or under the floor) and its window's slow share is under
half of ``slow_ratio`` (or spread over fewer than ``min_spread`` seconds): background copies keep
timing it, and a third of them slow keeps it out. Without such evidence, like an ejected host in
Envoy's outlier detection, it gets a fresh chance after ``hold`` seconds with its latency and slow
window re-measured; still slow, it is demoted again after ``min_samples`` calls spread over
``min_spread`` seconds, so a lasting brownout that nothing else times costs those calls' slow share
per hold. The check runs every ``sample_every`` (16) successes of an endpoint, and at a DEGRADED
endpoint's first success a second after the last check (so that its hold ends with the next copy).
"""

from __future__ import annotations

import math
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

    factor: float = 3.0  # over factor x the best peer's EWMA (the EWMA rule) or p95 (a slow call) ...
    floor: float = 0.1  # ... and above this many seconds
    recover_factor: float = 2.0  # HEALTHY again below recover_factor x the best peer's EWMA
    min_samples: int = 20  # successes an endpoint needs before its latency is compared
    hold: float = 30.0  # seconds DEGRADED before it is re-measured
    enabled: bool = True
    slow_ratio: float = 0.2  # this share of slow successes in the health window demotes ...
    min_spread: int = 3  # ... when slow ones fell in at least this many slots (seconds) of it

    def __post_init__(self) -> None:
        if not 1.0 <= self.recover_factor <= self.factor:
            raise ConfigError("1 <= recover_factor <= factor, so that DEGRADED does not flap", field="recover_factor")
        if self.floor < 0 or self.min_samples < 1 or not self.hold > 0:
            raise ConfigError("floor is not negative, min_samples at least 1, hold positive", field="degraded")
        if not 0.0 < self.slow_ratio <= 1.0 or self.min_spread < 1:
            raise ConfigError("slow_ratio is in (0, 1], min_spread at least 1", field="slow_ratio")


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
        measured: dict[str, tuple[float, float]] = {}  # EWMA and p95 of endpoints with enough samples
        for tracker in self._trackers.values():
            ewma, p95 = tracker.ewma, tracker.p95
            if ewma is not None and p95 is not None and tracker.latency_samples >= policy.min_samples:
                measured[tracker.name] = (ewma, p95)
        for tracker in self._trackers.values():
            peers = [(latency, name) for name, latency in measured.items() if name != tracker.name]
            best = min(peers) if peers else None
            best_p95 = min(p95 for (_, p95), _ in peers) if peers else math.inf
            tracker.slow_after = max(policy.floor, policy.factor * best_p95)
            own = measured[tracker.name][0] if tracker.name in measured else None
            record = tracker.record
            if record.state is HealthState.HEALTHY and best is not None:
                self._maybe_demote(tracker, own, best)
            elif record.state is HealthState.DEGRADED:
                self._maybe_recover(tracker, own, best, record.since, now)

    def _slow_share(self, tracker: HealthTracker, ratio: float) -> str | None:
        """Why ``tracker``'s window counts as slow at ``ratio`` (None if it does not)."""
        policy = self.degraded
        calls, slow, spread = tracker.slow_calls()
        if calls and slow >= ratio * calls and spread >= policy.min_spread:
            return f"{slow} of {calls} calls in {tracker.policy.window:g} s over {tracker.slow_after * 1000:.0f} ms"
        return None

    def _maybe_demote(self, tracker: HealthTracker, own: float | None, best: tuple[tuple[float, float], str]) -> None:
        policy = self.degraded
        (best_ewma, _), peer = best
        if own is not None and own > max(policy.floor, policy.factor * best_ewma):
            reason: str | None = f"EWMA {own * 1000:.0f} ms, over {policy.factor:g}x {peer}'s {best_ewma * 1000:.0f} ms"
        elif tracker.slow_calls()[0] >= policy.min_samples:
            reason = self._slow_share(tracker, policy.slow_ratio)
        else:
            reason = None
        if reason is not None:
            tracker.set_degraded(True, reason)

    def _maybe_recover(
        self,
        tracker: HealthTracker,
        own: float | None,
        best: tuple[tuple[float, float], str] | None,
        since: float,
        now: float,
    ) -> None:
        policy = self.degraded
        if now - since >= policy.hold:
            tracker.set_degraded(False, f"DEGRADED for {policy.hold:g} s: re-measuring")
            return
        if own is None:
            return
        fast = own <= policy.floor or best is None or own <= policy.recover_factor * best[0][0]
        if fast and self._slow_share(tracker, policy.slow_ratio / 2) is None:
            tracker.set_degraded(False, f"EWMA back to {own * 1000:.0f} ms")

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={tracker.state.value}" for name, tracker in self._trackers.items())
        return f"HealthRegistry({states})"

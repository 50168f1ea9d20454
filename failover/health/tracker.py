"""One endpoint's circuit breaker and latency record.

A `HealthTracker` opens the circuit (HEALTHY or DEGRADED -> DOWN):

- at once on an error that proves nobody is there: connect refused, DNS failure, credentials
  rejected (`opens_circuit_at_once`);
- after ``consecutive_failures`` FAILOVER errors or timeouts in a row (default 3);
- when failures reach ``failure_ratio`` of at least ``min_calls`` calls within the last ``window``
  seconds (default 50% of 20 calls in 10 s), whatever their disposition (RETRY errors count here).

FATAL errors are answers (the provider spoke; the caller asked wrongly): they count as calls, never as
failures; so do refusals of one request by policy (`is_refusal`: a 403 on one key), which the engine
fails over but which prove the provider up. A DOWN endpoint gets no traffic: `allow_request` says no,
and only its `Prober` calls it; a successful probe moves it to PROBING, where ``trial_calls`` calls at
a time are admitted; ``close_after`` successes in a row close the circuit (HEALTHY), and a failure
opens it again (the prober then waits longer). DEGRADED is decided by the `HealthRegistry`, which sees the peers.

The happy path (``allow_request`` on a HEALTHY endpoint, ``record_success``) takes no lock held
across a call, allocates nothing and logs nothing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from failover.clock import Clock, SystemClock
from failover.errors import ConfigError, Disposition
from failover.health.events import HealthEvents
from failover.health.latency import LatencyStats
from failover.health.store import HEALTHY_RECORD, HealthRecord, HealthState, HealthStore, InMemoryHealthStore
from failover.policy.classify import classify, is_refusal, is_timeout, opens_circuit_at_once

__all__ = ["HealthCounters", "HealthPolicy", "HealthTracker"]

_SYSTEM_CLOCK: Final = SystemClock()
_SERVING: Final = frozenset({HealthState.HEALTHY, HealthState.DEGRADED})


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """When a circuit opens and closes; the defaults are the design's."""

    consecutive_failures: int = 3
    failure_ratio: float = 0.5
    min_calls: int = 20
    window: float = 10.0  # seconds the failure ratio looks back
    window_buckets: int = 10
    trial_calls: int = 3  # calls admitted at a time while PROBING
    close_after: int = 3  # trial successes in a row that close the circuit
    trial_timeout: float = 10.0  # a trial call not reported within this is given up (its permit reused)
    ewma_alpha: float = 0.2
    latency_window: int = 128

    def __post_init__(self) -> None:
        if self.consecutive_failures < 1 or self.min_calls < 1 or self.trial_calls < 1 or self.close_after < 1:
            raise ConfigError("health thresholds and counts are at least 1", field="health")
        if not 0.0 < self.failure_ratio <= 1.0:
            raise ConfigError(f"failure_ratio is in (0, 1], not {self.failure_ratio!r}", field="failure_ratio")
        if not self.window > 0 or self.window_buckets < 1 or not self.trial_timeout > 0:
            raise ConfigError("window and trial_timeout are positive, window_buckets at least 1", field="window")


@dataclass(frozen=True, slots=True)
class HealthCounters:
    """What one endpoint saw. ``calls_while_down`` counts calls that ended while the circuit was open:
    calls in flight when it opened, and last-resort calls; the prober's calls are ``probes``."""

    calls: int = 0
    successes: int = 0
    failures: int = 0
    calls_while_down: int = 0
    rejected: int = 0  # allow_request said no
    trial_calls: int = 0
    probes: int = 0
    probe_failures: int = 0
    opened: int = 0  # times the circuit opened


class _Window:
    """Calls and failures in the last ``span`` seconds, in ``buckets`` slots of time."""

    __slots__ = ("_calls", "_epochs", "_failures", "_n", "_width")

    def __init__(self, span: float, buckets: int) -> None:
        self._n = buckets
        self._width = span / buckets
        self._epochs = [-1] * buckets
        self._calls = [0] * buckets
        self._failures = [0] * buckets

    def add(self, now: float, failed: bool) -> None:
        epoch = int(now / self._width)
        slot = epoch % self._n
        if self._epochs[slot] != epoch:
            self._epochs[slot] = epoch
            self._calls[slot] = 0
            self._failures[slot] = 0
        self._calls[slot] += 1
        if failed:
            self._failures[slot] += 1

    def totals(self, now: float) -> tuple[int, int]:
        oldest = int(now / self._width) - self._n + 1
        calls = failures = 0
        for slot, epoch in enumerate(self._epochs):
            if epoch >= oldest:
                calls += self._calls[slot]
                failures += self._failures[slot]
        return calls, failures

    def spread(self, now: float) -> int:
        """How many of the slots in the window hold at least one failure (a slow call, for latency)."""
        oldest = int(now / self._width) - self._n + 1
        return sum(1 for slot, epoch in enumerate(self._epochs) if epoch >= oldest and self._failures[slot])

    def clear(self) -> None:
        self._epochs = [-1] * self._n


_Change = tuple[HealthState, HealthState, str]


class HealthTracker:
    """The health of one endpoint (``name``: provider + service + bucket or queue)."""

    def __init__(
        self,
        name: str,
        *,
        policy: HealthPolicy | None = None,
        clock: Clock = _SYSTEM_CLOCK,
        store: HealthStore | None = None,
        events: HealthEvents | None = None,
    ) -> None:
        self.name = name
        self.policy = policy if policy is not None else HealthPolicy()
        self.clock = clock
        self.store: HealthStore = store if store is not None else InMemoryHealthStore()
        self.events = events if events is not None else HealthEvents()
        self._lock = threading.Lock()
        self._latency = LatencyStats(self.policy.ewma_alpha, self.policy.latency_window)
        self._window = _Window(self.policy.window, self.policy.window_buckets)
        self._slow = _Window(self.policy.window, self.policy.window_buckets)  # successes, and slow ones
        self._consecutive = 0
        self._trial_successes = 0
        self._trials_in_flight = 0
        self._trial_admitted_at = 0.0
        self._counts = dict.fromkeys(HealthCounters.__dataclass_fields__, 0)
        # Set by a HealthRegistry: called (outside the lock) every `sample_every` successes, and, while
        # this endpoint is DEGRADED, at its first success `sample_interval` seconds after the last call
        # (so that its hold ends with the next background copy, not 16 later); a success slower than
        # `slow_after` seconds (which the registry sets from the peers) counts as slow.
        self.sample_hook: Callable[[], None] | None = None
        self.sample_every = 16
        self.sample_interval = 1.0
        self._sampled_at = self.clock.monotonic()
        self.slow_after = math.inf

    # -- reading ---------------------------------------------------------------------------------

    @property
    def record(self) -> HealthRecord:
        return self.store.get(self.name) or HEALTHY_RECORD

    @property
    def state(self) -> HealthState:
        return self.record.state

    @property
    def ewma(self) -> float | None:
        """Seconds: the moving average latency of successful calls, None before any."""
        return self._latency.ewma

    @property
    def p95(self) -> float | None:
        """Seconds: the 95th percentile latency of the last successful calls, None before any."""
        with self._lock:
            return self._latency.p95

    @property
    def latency_samples(self) -> int:
        return self._latency.count

    def slow_calls(self) -> tuple[int, int, int]:
        """Over the failure-ratio window: successes timed, those slower than ``slow_after``, and in how
        many of the window's slots slow ones fell (a brownout spreads, a spike does not)."""
        now = self.clock.monotonic()
        with self._lock:
            calls, slow = self._slow.totals(now)
            return calls, slow, self._slow.spread(now)

    def counters(self) -> HealthCounters:
        with self._lock:
            return HealthCounters(**self._counts)

    # -- the call path ---------------------------------------------------------------------------

    def allow_request(self) -> bool:
        """Whether a call may go to this endpoint now (HEALTHY, DEGRADED, or a PROBING trial slot)."""
        record = self.store.get(self.name)
        if record is None or record.state in _SERVING:
            return True
        with self._lock:
            if record.state is HealthState.PROBING:
                now = self.clock.monotonic()
                if self._trials_in_flight >= self.policy.trial_calls:
                    if now - self._trial_admitted_at < self.policy.trial_timeout:
                        self._counts["rejected"] += 1
                        return False
                    self._trials_in_flight = 0  # their callers never reported; do not wait forever
                self._trials_in_flight += 1
                self._trial_admitted_at = now
                self._counts["trial_calls"] += 1
                return True
            self._counts["rejected"] += 1
            return False

    def record_success(self, latency: float | None) -> None:
        """A call succeeded in ``latency`` seconds (None: a call whose time says nothing of the
        endpoint's speed, such as a long poll that waited for messages)."""
        now = self.clock.monotonic()
        change = None
        with self._lock:
            counts = self._counts
            counts["calls"] += 1
            successes = counts["successes"] = counts["successes"] + 1
            self._consecutive = 0
            self._window.add(now, False)
            if latency is not None:
                self._latency.add(latency)
                self._slow.add(now, latency > self.slow_after)
            record = self.store.get(self.name)
            if record is not None and record.state not in _SERVING:
                change = self._answered_while_open(record, now)
            hook = None
            if latency is not None and (
                successes % self.sample_every == 0
                or (
                    record is not None
                    and record.state is HealthState.DEGRADED
                    and now - self._sampled_at >= self.sample_interval
                )
            ):
                hook = self.sample_hook
                self._sampled_at = now
        if change is not None:
            self.events.state_changed(self.name, *change)
        if hook is not None:
            hook()

    def record_failure(self, error: BaseException) -> None:
        """A call failed with ``error`` (a FATAL one, or a refusal of this one request, is an answer,
        and counts as a healthy call)."""
        disposition = classify(error)
        now = self.clock.monotonic()
        with self._lock:
            self._counts["calls"] += 1
            record = self.store.get(self.name) or HEALTHY_RECORD
            if disposition is Disposition.FATAL or is_refusal(error):
                self._consecutive = 0
                self._window.add(now, False)
                change = None if record.state in _SERVING else self._answered_while_open(record, now)
            else:
                self._counts["failures"] += 1
                self._window.add(now, True)
                change = self._failed(record, error, disposition, now)
        if change is not None:
            self.events.state_changed(self.name, *change)

    # -- the prober's path -----------------------------------------------------------------------

    def probe_succeeded(self, latency: float) -> None:
        """A probe answered: a DOWN endpoint moves to PROBING (half-open)."""
        with self._lock:
            self._counts["probes"] += 1
            record = self.record
            change = None
            if record.state is HealthState.DOWN:
                self._reset_trials()
                change = self._set(record, HealthState.PROBING, f"probe answered in {latency * 1000:.0f} ms")
        if change is not None:
            self.events.state_changed(self.name, *change)

    def probe_failed(self, error: BaseException) -> None:
        with self._lock:
            self._counts["probes"] += 1
            self._counts["probe_failures"] += 1

    # -- changes decided elsewhere ---------------------------------------------------------------

    def open_circuit(self, reason: str) -> None:
        """Mark the endpoint DOWN (an operator, or a fleet-wide decision)."""
        with self._lock:
            record = self.record
            change = None if record.state is HealthState.DOWN else self._trip(record, reason)
        if change is not None:
            self.events.state_changed(self.name, *change)

    def set_degraded(self, degraded: bool, reason: str) -> bool:
        """HEALTHY <-> DEGRADED (the registry's outlier decision); False if the state did not allow it."""
        with self._lock:
            record = self.record
            if record.state is (HealthState.HEALTHY if degraded else HealthState.DEGRADED):
                new = HealthState.DEGRADED if degraded else HealthState.HEALTHY
                if not degraded:
                    self._latency.reset()  # re-measured from now on
                    self._slow.clear()
                change: _Change | None = self._set(record, new, reason)
            else:
                change = None
        if change is not None:
            self.events.state_changed(self.name, *change)
        return change is not None

    # -- transitions, under the lock -------------------------------------------------------------

    def _failed(
        self, record: HealthRecord, error: BaseException, disposition: Disposition, now: float
    ) -> _Change | None:
        state = record.state
        if state is HealthState.DOWN:
            self._counts["calls_while_down"] += 1
            return None
        if state is HealthState.PROBING:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)
            return self._trip(record, f"trial call failed: {error}")
        if opens_circuit_at_once(error):
            return self._trip(record, str(error))
        if disposition is Disposition.FAILOVER or is_timeout(error):
            self._consecutive += 1
            if self._consecutive >= self.policy.consecutive_failures:
                return self._trip(record, f"{self._consecutive} failures in a row; last: {error}")
        calls, failures = self._window.totals(now)
        if calls >= self.policy.min_calls and failures >= self.policy.failure_ratio * calls:
            return self._trip(record, f"{failures} of {calls} calls failed in {self.policy.window:g} s; last: {error}")
        return None

    def _answered_while_open(self, record: HealthRecord, now: float) -> _Change | None:
        if record.state is HealthState.DOWN:
            # In flight when the circuit opened, or a last-resort call: only the prober closes it.
            self._counts["calls_while_down"] += 1
            return None
        self._trials_in_flight = max(0, self._trials_in_flight - 1)
        self._trial_successes += 1
        if self._trial_successes < self.policy.close_after:
            return None
        self._reset_trials()
        return self._set(record, HealthState.HEALTHY, f"{self.policy.close_after} trial calls succeeded")

    def _trip(self, record: HealthRecord, reason: str) -> _Change | None:
        self._counts["opened"] += 1
        self._consecutive = 0
        self._window.clear()
        self._reset_trials()
        opened = record.opened + 1 if record.state is HealthState.PROBING else 1
        return self._set(record, HealthState.DOWN, reason, opened=opened)

    def _reset_trials(self) -> None:
        self._trials_in_flight = 0
        self._trial_successes = 0

    def _set(
        self, record: HealthRecord, state: HealthState, reason: str, *, opened: int | None = None
    ) -> _Change | None:
        if state is record.state:
            return None
        if opened is None:
            opened = record.opened if state is not HealthState.HEALTHY else 0
        if state is HealthState.HEALTHY:
            self._consecutive = 0
            self._window.clear()
        self.store.set(self.name, HealthRecord(state, reason, self.clock.monotonic(), opened))
        return record.state, state, reason

    def __repr__(self) -> str:
        return f"HealthTracker({self.name!r}, state={self.state.value}, ewma={self.ewma})"

"""The call loop that `FailoverStorage` and `FailoverQueue` share.

One `Engine` holds the endpoints of one failover group (adapters of the same Protocol), each with
its health tracker, its retry policy (with its own budget) and its prober, plus the router that
orders them for each call. `call` tries the endpoints in the router's order inside one deadline:
a FATAL error is the answer and returns at once, a FAILOVER error (or a RETRY error the policy gave
up on) moves to the next endpoint, and when every candidate failed, `AllProvidersFailed` lists each
error. No attempt, failover or retry, starts with less than the deadline's floor left. The happy
path is one direct adapter call with a few reads and counters around it.

Three choices the health tracker alone would not make:

- A failed attempt with a RETRY disposition (5xx, throttling, a reset) counts toward the breaker's
  consecutive failures like a FAILOVER one (``EngineSettings.retry_errors_trip``): it is retried on
  the same provider first, but three in a row mean the provider is down for us, and a 503 storm
  then costs the sick provider three requests, not half the traffic of the failure-ratio window.
- Background work (the replicator) asks ``is_available(name, background=True)``, which also says
  no for ``background_pause`` seconds after a call to that endpoint failed, until a call or a probe
  succeeds there: callers, not background copies, find out whether the endpoint is down, so an
  outage costs the provider no more requests than the breaker's threshold. Background calls report
  their outcome with `record`, so that the replicator's copies give every endpoint a latency
  estimate (latency routing and brownout detection compare them).
- When no endpoint in a call's scope is available (a short local blip opened every circuit), the call
  does not fail without asking anyone until a probe comes due: it tries the DOWN endpoint whose
  circuit opened least recently, once, with at most the probe timeout (`_last_resort`); an answer
  moves that endpoint to PROBING. A read whose only up-to-date store is DOWN asks it this way before
  `StaleReadRisk` is raised.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, Literal, Protocol, TypeVar, runtime_checkable

from failover.clock import Clock, SystemClock
from failover.errors import (
    AllProvidersFailed,
    ConfigError,
    Disposition,
    FailoverError,
    ProviderError,
    ProviderUnavailable,
    Reason,
)
from failover.health import (
    DegradedPolicy,
    HealthPolicy,
    HealthRegistry,
    HealthState,
    HealthStore,
    HealthTracker,
    ProbeBackoff,
    Prober,
)
from failover.observe import NO_OBSERVER, Observer, observe_attempts, observed
from failover.policy import Deadline, RetryBudget, RetryPolicy, classify, is_refusal
from failover.routing import HedgePolicy, LatencyRouter, PriorityRouter, Router, hedged_call

__all__ = ["Endpoint", "Engine", "EngineSettings", "Outcome", "attempt_timeout_of"]

logger = logging.getLogger("failover.engine")

A = TypeVar("A")
T = TypeVar("T")

_CLEARS_FAILURE = frozenset({HealthState.HEALTHY, HealthState.PROBING})

CLOSE_SLACK = 1.0
"""Seconds `Engine.close` waits for its threads beyond the probe timeout (a probe in progress ends by then)."""


@dataclass(frozen=True)
class EngineSettings:
    """How calls are timed, retried and routed. The defaults follow DESIGN sections 5 to 7."""

    deadline: float = 10.0  # seconds a whole call may take, failovers included
    # Seconds one attempt may take: the read timeout handed to the adapter (a socket read, not the
    # whole transfer), never more than the deadline leaves. None: each endpoint's own configured
    # ``read_timeout`` (3 s by default, well under the deadline, so that a hung provider leaves time
    # to fail over), or what the deadline leaves for an adapter that has none (memory).
    attempt_timeout: float | None = None
    max_attempts: int = 2  # per provider, the first included
    retry_base: float = 0.05
    retry_cap: float = 1.0
    routing: Literal["priority", "latency"] = "priority"
    hedge: HedgePolicy | None = None  # hedged reads; None: no hedging
    health: HealthPolicy = field(default_factory=HealthPolicy)
    degraded: DegradedPolicy = field(default_factory=DegradedPolicy)  # brownout: when an endpoint is demoted
    probe_timeout: float = 2.0
    probe_backoff: ProbeBackoff = field(default_factory=ProbeBackoff)
    start_probers: bool = True  # background probe threads (tests drive `Engine.probe_now` instead)
    retry_errors_trip: bool = True  # RETRY failures count toward the breaker's consecutive failures
    background_pause: float = 5.0  # seconds background work leaves an endpoint alone after a failure


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A call's value, the endpoint that gave it, and the endpoints that failed before it."""

    value: T
    endpoint: str
    failures: tuple[tuple[str, FailoverError], ...] = ()


@runtime_checkable
class SharesProbes(Protocol):
    """A health store shared by processes that probe a DOWN endpoint once for them all."""

    def shared_probe(self, endpoint: str, probe: Callable[[float], object]) -> Callable[[float], object]: ...


@dataclass(slots=True)
class Endpoint(Generic[A]):
    name: str
    adapter: A
    retry: RetryPolicy
    prober: Prober

    @property
    def attempt_timeout(self) -> float | None:
        """Seconds one attempt here may take (None: what the deadline leaves)."""
        return self.retry.attempt_timeout


def attempt_timeout_of(adapter: object, settings: EngineSettings) -> float | None:
    """The attempt timeout of ``adapter``'s endpoint: the engine's, else the adapter's ``read_timeout``.

    The cloud adapters (and the test kit's wrappers of them) expose their configured ``read_timeout``;
    an adapter without one (memory) gets what each call's deadline leaves.
    """
    if settings.attempt_timeout is not None:
        return settings.attempt_timeout
    configured = getattr(adapter, "read_timeout", None)
    if isinstance(configured, int | float) and not isinstance(configured, bool) and configured > 0:
        return float(configured)
    return None


class Engine(Generic[A]):
    """Endpoints, their health and the routing for one failover group."""

    def __init__(
        self,
        adapters: Sequence[A],
        *,
        name_of: Callable[[A], str],
        probe: Callable[[A, float], object],
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        executor: futures.ThreadPoolExecutor | None = None,
        health_store: HealthStore | None = None,
    ) -> None:
        """``executor`` (hedged reads, mirrored writes) and ``health_store`` (where circuit states
        live: in this process by default, a fleet's shared store otherwise) stay the caller's when
        given: `close` shuts down only an executor the engine made."""
        if not adapters:
            raise ConfigError("a failover group needs at least one adapter", field="adapters")
        self.settings = settings = settings if settings is not None else EngineSettings()
        self.observer: Observer = NO_OBSERVER  # calls told to it (`failover.telemetry.instrument` sets one)
        self._name_of = name_of
        self.clock: Clock = clock if clock is not None else SystemClock()
        names = [name_of(adapter) for adapter in adapters]
        self.health = HealthRegistry(
            names, policy=settings.health, degraded=settings.degraded, clock=self.clock, store=health_store
        )
        self.router: Router = (
            LatencyRouter(self.health) if settings.routing == "latency" else PriorityRouter(self.health)
        )
        self._owns_executor = executor is None
        self.executor = executor if executor is not None else futures.ThreadPoolExecutor(8, "failover")
        # When a call to each endpoint last failed, until a call or a probe succeeds there.
        self._failed_at: dict[str, float] = {}
        self.health.events.on_state_change.append(self._on_state_change)
        self.endpoints: dict[str, Endpoint[A]] = {}
        for name, adapter in zip(names, adapters, strict=True):
            tracker = self.health[name]
            retry = RetryPolicy(
                settings.max_attempts,
                settings.retry_base,
                settings.retry_cap,
                budget=RetryBudget(clock=self.clock),
                attempt_timeout=attempt_timeout_of(adapter, settings),
                sleep=self.clock.sleep,
                on_failure=partial(self._attempt_failed, name, tracker),
                admit=tracker.allow_request,
            )
            bound = _bind_probe(probe, adapter)
            if isinstance(health_store, SharesProbes):  # a fleet's: one process probes for all
                bound = health_store.shared_probe(name, bound)
            prober = Prober(
                tracker,
                bound,
                backoff=settings.probe_backoff,
                timeout=settings.probe_timeout,
            )
            self.endpoints[name] = Endpoint(name, adapter, retry, prober)
        if settings.start_probers:
            for endpoint in self.endpoints.values():
                endpoint.prober.start()

    @property
    def names(self) -> tuple[str, ...]:
        return self.health.names

    def is_available(self, name: str, *, background: bool = False) -> bool:
        """Whether ``name`` takes traffic now (not DOWN).

        ``background=True`` (the replicator) also says no for ``background_pause`` seconds after a
        call there failed, unless a call or a probe has succeeded since.
        """
        if self.health[name].state is HealthState.DOWN:
            return False
        if not background:
            return True
        failed_at = self._failed_at.get(name)
        return failed_at is None or self.clock.monotonic() - failed_at >= self.settings.background_pause

    def record(self, name: str, latency: float, error: BaseException | None = None) -> None:
        """Tell ``name``'s health of a call made outside `call` (background replication)."""
        if error is None:
            self._succeeded(name, self.health[name], latency)
        else:
            self._attempt_failed(name, self.health[name], error)

    def call(
        self,
        operation: str,
        fn: Callable[[A, float], T],
        *,
        timeout: float | None = None,
        only: Sequence[str] | None = None,
        skip: frozenset[str] = frozenset(),
        timed: bool = True,
    ) -> Outcome[T]:
        """``fn(adapter, attempt_timeout)`` on the best endpoint, failing over inside one deadline.

        ``only`` restricts the call to those endpoints (in routing order); ``skip`` leaves some out.
        ``timed=False`` keeps the call's duration out of the latency estimate (a long poll's wait is
        not the endpoint's slowness, and would mark an idle queue DEGRADED).
        """
        watch = self.observer.start_call(operation)
        if watch is not None:
            observed_fn = observe_attempts(fn, watch, self._name_of, self.clock)
            return observed(watch, lambda: self._call(operation, observed_fn, timeout, only, skip, timed))
        return self._call(operation, fn, timeout, only, skip, timed)

    def _call(
        self,
        operation: str,
        fn: Callable[[A, float], T],
        timeout: float | None,
        only: Sequence[str] | None,
        skip: frozenset[str],
        timed: bool,
    ) -> Outcome[T]:
        deadline = Deadline(timeout if timeout is not None else self.settings.deadline, self.clock)
        order = self.router.order()
        candidates = (
            order if only is None and not skip else [n for n in order if n not in skip and (only is None or n in only)]
        )
        failures: list[tuple[str, FailoverError]] = []
        tried = False
        for index, name in enumerate(candidates):
            if failures and not deadline.can_start_attempt():
                break
            endpoint = self.endpoints[name]
            tracker = self.health[name]
            if not tracker.allow_request():
                continue
            tried = True
            started = self.clock.monotonic()
            try:
                value = endpoint.retry.call(partial(fn, endpoint.adapter), deadline)
            except FailoverError as exc:
                if classify(exc) is Disposition.FATAL:
                    raise
                failures.append((name, exc))
                following = candidates[index + 1] if index + 1 < len(candidates) else None
                self.health.failed_over(name, following, operation, exc)
                continue
            self._succeeded(name, tracker, self.clock.monotonic() - started if timed else None)
            return Outcome(value, name, tuple(failures))
        if not tried:
            rescued = self._last_resort(fn, deadline, failures, only, skip)
            if rescued is not None:
                return rescued
        raise self._all_failed(operation, order, failures, only, skip)

    def call_on(
        self,
        name: str,
        operation: str,
        fn: Callable[[A, float], T],
        *,
        timeout: float | None = None,
        timed: bool = True,
    ) -> T:
        """``fn`` on endpoint ``name`` alone (with its retries): for acks that belong to one queue."""
        return self.call(operation, fn, timeout=timeout, only=(name,), timed=timed).value

    def hedged(
        self,
        operation: str,
        fn: Callable[[A, float], T],
        *,
        timeout: float | None = None,
        only: Sequence[str] | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> Outcome[T]:
        """A read sent to the best endpoint and, after the hedge delay, to the next; first success wins.

        Without a hedge policy in the settings, a plain `call`. ``only`` and ``skip`` as for `call`.
        """
        policy = self.settings.hedge
        if policy is None:
            return self.call(operation, fn, timeout=timeout, only=only, skip=skip)
        watch = self.observer.start_call(operation)
        if watch is not None:
            observed_fn = observe_attempts(fn, watch, self._name_of, self.clock)
            return observed(
                watch, lambda: self._hedged(policy, operation, observed_fn, timeout, only, skip, watch.hedge)
            )
        return self._hedged(policy, operation, fn, timeout, only, skip, None)

    def _hedged(
        self,
        policy: HedgePolicy,
        operation: str,
        fn: Callable[[A, float], T],
        timeout: float | None,
        only: Sequence[str] | None,
        skip: frozenset[str],
        on_hedge: Callable[[str], None] | None,
    ) -> Outcome[T]:
        deadline = Deadline(timeout if timeout is not None else self.settings.deadline, self.clock)
        order = [name for name in self.router.order() if name not in skip and (only is None or name in only)]
        if not order:
            failures: list[tuple[str, FailoverError]] = []
            rescued = self._last_resort(fn, deadline, failures, only, skip)
            if rescued is not None:
                return rescued
            raise self._all_failed(operation, (), failures, only, skip)
        winner: list[str] = []

        def attempt(name: str) -> T:
            # Admission is asked only of the endpoints actually called: on a PROBING one it takes a trial slot.
            if not self.health[name].allow_request():
                raise ProviderUnavailable(f"{name} was not called: its trial calls are taken", operation=operation)
            endpoint = self.endpoints[name]
            started = self.clock.monotonic()
            value = endpoint.retry.call(partial(fn, endpoint.adapter), deadline)
            self._succeeded(name, self.health[name], self.clock.monotonic() - started)
            winner.append(name)
            return value

        try:
            value = hedged_call(
                attempt, order, self.executor, policy=policy, health=self.health, deadline=deadline, on_hedge=on_hedge
            )
        except AllProvidersFailed as failed:
            refusal = _every_one_refused(failed.errors)
            if refusal is None:
                raise
            raise refusal from None
        return Outcome(value, winner[0] if winner else order[0])

    def _last_resort(
        self,
        fn: Callable[[A, float], T],
        deadline: Deadline,
        failures: list[tuple[str, FailoverError]],
        only: Sequence[str] | None,
        skip: frozenset[str],
    ) -> Outcome[T] | None:
        """When no endpoint in scope was available: ``fn`` once on the DOWN one whose circuit opened
        least recently, with at most ``probe_timeout``; None (its error added to ``failures``) if it failed.

        A blip that opened every circuit must not fail calls until a probe comes due: the call itself
        asks. An answer (success, FATAL or a refusal) proves the endpoint up, as a probe's would: it
        moves to PROBING, and its trial calls close the circuit.
        """
        down = [
            name
            for name in self.names
            if name not in skip and (only is None or name in only) and self.health[name].state is HealthState.DOWN
        ]
        if not down or not deadline.can_start_attempt():
            return None
        name = min(down, key=lambda candidate: self.health[candidate].record.since)
        tracker = self.health[name]
        attempt = self.endpoints[name].attempt_timeout
        timeout = deadline.attempt_timeout(
            min(self.settings.probe_timeout, attempt if attempt is not None else math.inf)
        )
        started = self.clock.monotonic()
        try:
            value = fn(self.endpoints[name].adapter, timeout)
        except FailoverError as exc:
            answered = classify(exc) is Disposition.FATAL or is_refusal(exc)
            if answered:
                tracker.probe_succeeded(self.clock.monotonic() - started)
            tracker.record_failure(exc)
            if classify(exc) is Disposition.FATAL:
                raise
            failures.append((name, exc))
            return None
        tracker.probe_succeeded(self.clock.monotonic() - started)
        self._succeeded(name, tracker, self.clock.monotonic() - started)
        logger.info("%s answered a last-resort call while every endpoint was DOWN", name)
        return Outcome(value, name, tuple(failures))

    def probe_now(self) -> None:
        """Run every due probe once, on this thread (tests and the CLI; the threads do it otherwise)."""
        for endpoint in self.endpoints.values():
            endpoint.prober.tick()

    def close(self, timeout: float | None = None) -> bool:
        """Stop the probers and an executor the engine made, and wait for their threads: a probe in
        progress ends within the probe timeout, so ``timeout`` defaults to that plus `CLOSE_SLACK`.

        Whether every thread ended in time; the caller closes the endpoints after this, and an
        endpoint a thread still uses is then logged. No probe starts once `close` has begun.
        """
        bound = self.settings.probe_timeout + CLOSE_SLACK if timeout is None else timeout
        ends = time.monotonic() + bound
        probers = [endpoint.prober for endpoint in self.endpoints.values()]
        for prober in probers:
            prober.stop(timeout=0)  # all of them told first, so that they wind down together
        if self._on_state_change in self.health.events.on_state_change:
            self.health.events.on_state_change.remove(self._on_state_change)
        threads: list[threading.Thread] = []
        if self._owns_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
            # The standard library has no bounded wait for an executor's threads: join them one by one.
            threads = list(getattr(self.executor, "_threads", ()))
        ended = all([prober.stop(timeout=max(ends - time.monotonic(), 0.0)) for prober in probers])
        for thread in threads:
            thread.join(max(ends - time.monotonic(), 0.0))
            ended = ended and not thread.is_alive()
        if not ended:
            logger.warning("threads of %s still ran %.1f s after close began", "+".join(self.names), bound)
        return ended

    # -- health bookkeeping ----------------------------------------------------------------------

    def _succeeded(self, name: str, tracker: HealthTracker, latency: float | None) -> None:
        if self._failed_at:
            self._failed_at.pop(name, None)
        tracker.record_success(latency)

    def _attempt_failed(self, name: str, tracker: HealthTracker, error: BaseException) -> None:
        disposition = classify(error)
        if disposition is not Disposition.FATAL and not is_refusal(error):
            self._failed_at[name] = self.clock.monotonic()
        if disposition is Disposition.RETRY and self.settings.retry_errors_trip and isinstance(error, ProviderError):
            error = _as_failover(error)
        tracker.record_failure(error)

    def _on_state_change(self, endpoint: str, old: HealthState, new: HealthState, reason: str) -> None:
        if new in _CLEARS_FAILURE:
            self._failed_at.pop(endpoint, None)

    def _all_failed(
        self,
        operation: str,
        order: Sequence[str],
        failures: list[tuple[str, FailoverError]],
        only: Sequence[str] | None,
        skip: frozenset[str],
    ) -> FailoverError:
        """`AllProvidersFailed` with each endpoint's error; or, when every endpoint was asked and each
        refused the request by policy, the first refusal: that is the answer (DESIGN section 4)."""
        errors = [error for _, error in failures]
        tried = {name for name, _ in failures}
        for name in self.names:
            if name in tried or name in skip or (only is not None and name not in only):
                continue
            state = self.health[name].state
            why = (
                "its circuit is open"
                if name not in order or state is HealthState.DOWN
                else "its trial calls are taken"
                if state is HealthState.PROBING
                else "no time left"
            )
            errors.append(
                ProviderUnavailable(f"{name} was not called: {why}", reason=Reason.OTHER, operation=operation)
            )
        refusal = _every_one_refused(errors)
        if refusal is not None:
            return refusal
        return AllProvidersFailed(f"{operation} failed on every provider", errors=errors, operation=operation)


def _every_one_refused(errors: Sequence[FailoverError]) -> FailoverError | None:
    """The first error when each of ``errors`` refused one request by policy, else None."""
    if errors and all(is_refusal(error) for error in errors):
        return errors[0]
    return None


def _as_failover(error: ProviderError) -> ProviderUnavailable:
    """The breaker's view of a RETRY failure: one more sign that the provider is down for us."""
    return ProviderUnavailable(
        error.message,
        reason=error.reason,
        disposition=Disposition.FAILOVER,
        provider=error.provider,
        operation=error.operation,
        key=error.key,
    )


def _bind_probe(probe: Callable[[A, float], object], adapter: A) -> Callable[[float], object]:
    def run(timeout: float) -> object:
        return probe(adapter, timeout)

    return run

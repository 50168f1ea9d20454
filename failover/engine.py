"""The call loop that `FailoverStorage` and `FailoverQueue` share.

One `Engine` holds the endpoints of one failover group (adapters of the same Protocol), each with
its health tracker, its retry policy (with its own budget) and its prober, plus the router that
orders them for each call. `call` tries the endpoints in the router's order inside one deadline:
a FATAL error is the answer and returns at once, a FAILOVER error (or a RETRY error the policy gave
up on) moves to the next endpoint, and when every candidate failed, `AllProvidersFailed` lists each
error. The happy path is one direct adapter call with a few reads and counters around it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, Literal, TypeVar

from failover.clock import Clock, SystemClock
from failover.errors import (
    AllProvidersFailed,
    ConfigError,
    Disposition,
    FailoverError,
    ProviderUnavailable,
    Reason,
)
from failover.health import HealthPolicy, HealthRegistry, HealthState, Prober
from failover.policy import Deadline, RetryBudget, RetryPolicy, classify
from failover.routing import HedgePolicy, LatencyRouter, PriorityRouter, Router, hedged_call

__all__ = ["Endpoint", "Engine", "EngineSettings", "Outcome"]

logger = logging.getLogger("failover.engine")

A = TypeVar("A")
T = TypeVar("T")


@dataclass(frozen=True)
class EngineSettings:
    """How calls are timed, retried and routed. The defaults follow DESIGN sections 5 to 7."""

    deadline: float = 10.0  # seconds a whole call may take, failovers included
    attempt_timeout: float | None = None  # seconds one attempt may take (None: the adapter's read timeout)
    max_attempts: int = 2  # per provider, the first included
    retry_base: float = 0.05
    retry_cap: float = 1.0
    routing: Literal["priority", "latency"] = "priority"
    hedge: HedgePolicy | None = None  # hedged reads; None: no hedging
    health: HealthPolicy = field(default_factory=HealthPolicy)
    probe_timeout: float = 2.0
    start_probers: bool = True  # background probe threads (tests drive `Engine.probe_now` instead)


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A call's value, the endpoint that gave it, and the endpoints that failed before it."""

    value: T
    endpoint: str
    failures: tuple[tuple[str, FailoverError], ...] = ()


@dataclass(slots=True)
class Endpoint(Generic[A]):
    name: str
    adapter: A
    retry: RetryPolicy
    prober: Prober


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
    ) -> None:
        if not adapters:
            raise ConfigError("a failover group needs at least one adapter", field="adapters")
        self.settings = settings = settings if settings is not None else EngineSettings()
        self.clock: Clock = clock if clock is not None else SystemClock()
        names = [name_of(adapter) for adapter in adapters]
        self.health = HealthRegistry(names, policy=settings.health, clock=self.clock)
        self.router: Router = (
            LatencyRouter(self.health) if settings.routing == "latency" else PriorityRouter(self.health)
        )
        self._owns_executor = executor is None
        self.executor = executor if executor is not None else futures.ThreadPoolExecutor(8, "failover")
        self.endpoints: dict[str, Endpoint[A]] = {}
        for name, adapter in zip(names, adapters, strict=True):
            tracker = self.health[name]
            retry = RetryPolicy(
                settings.max_attempts,
                settings.retry_base,
                settings.retry_cap,
                budget=RetryBudget(clock=self.clock),
                attempt_timeout=settings.attempt_timeout,
                sleep=self.clock.sleep,
                on_failure=tracker.record_failure,
                admit=tracker.allow_request,
            )
            prober = Prober(tracker, _bind_probe(probe, adapter), timeout=settings.probe_timeout)
            self.endpoints[name] = Endpoint(name, adapter, retry, prober)
        if settings.start_probers:
            for endpoint in self.endpoints.values():
                endpoint.prober.start()

    @property
    def names(self) -> tuple[str, ...]:
        return self.health.names

    def is_available(self, name: str) -> bool:
        """Whether ``name`` takes traffic now (not DOWN); the replicator asks this."""
        return self.health[name].state is not HealthState.DOWN

    def call(
        self,
        operation: str,
        fn: Callable[[A, float], T],
        *,
        timeout: float | None = None,
        only: Sequence[str] | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> Outcome[T]:
        """``fn(adapter, attempt_timeout)`` on the best endpoint, failing over inside one deadline.

        ``only`` restricts the call to those endpoints (in routing order); ``skip`` leaves some out.
        """
        deadline = Deadline(timeout if timeout is not None else self.settings.deadline, self.clock)
        order = self.router.order()
        failures: list[tuple[str, FailoverError]] = []
        for name in order:
            if name in skip or (only is not None and name not in only):
                continue
            if failures and not deadline.can_start_attempt():
                break
            endpoint = self.endpoints[name]
            tracker = self.health[name]
            if not tracker.allow_request():
                continue
            started = self.clock.monotonic()
            try:
                value = endpoint.retry.call(partial(fn, endpoint.adapter), deadline)
            except FailoverError as exc:
                if classify(exc) is Disposition.FATAL:
                    raise
                failures.append((name, exc))
                self.health.failed_over(name, None, operation, exc)
                continue
            tracker.record_success(self.clock.monotonic() - started)
            return Outcome(value, name, tuple(failures))
        raise self._all_failed(operation, order, failures, only, skip)

    def call_on(self, name: str, operation: str, fn: Callable[[A, float], T], *, timeout: float | None = None) -> T:
        """``fn`` on endpoint ``name`` alone (with its retries): for acks that belong to one queue."""
        return self.call(operation, fn, timeout=timeout, only=(name,)).value

    def hedged(self, operation: str, fn: Callable[[A, float], T], *, timeout: float | None = None) -> Outcome[T]:
        """A read sent to the best endpoint and, after the hedge delay, to the next; first success wins."""
        policy = self.settings.hedge
        if policy is None:
            return self.call(operation, fn, timeout=timeout)
        deadline = Deadline(timeout if timeout is not None else self.settings.deadline, self.clock)
        order = [name for name in self.router.order() if self.health[name].allow_request()]
        winner: list[str] = []

        def attempt(name: str) -> T:
            endpoint = self.endpoints[name]
            started = self.clock.monotonic()
            value = endpoint.retry.call(partial(fn, endpoint.adapter), deadline)
            self.health[name].record_success(self.clock.monotonic() - started)
            winner.append(name)
            return value

        value = hedged_call(attempt, order, self.executor, policy=policy, health=self.health, deadline=deadline)
        return Outcome(value, winner[0] if winner else order[0])

    def probe_now(self) -> None:
        """Run every due probe once, on this thread (tests and the CLI; the threads do it otherwise)."""
        for endpoint in self.endpoints.values():
            endpoint.prober.tick()

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.prober.stop(timeout=1.0)
        if self._owns_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)

    def _all_failed(
        self,
        operation: str,
        order: Sequence[str],
        failures: list[tuple[str, FailoverError]],
        only: Sequence[str] | None,
        skip: frozenset[str],
    ) -> AllProvidersFailed:
        errors = [error for _, error in failures]
        tried = {name for name, _ in failures}
        for name in self.names:
            if name in tried or name in skip or (only is not None and name not in only):
                continue
            why = (
                "its circuit is open" if name not in order or not self.health[name].allow_request() else "no time left"
            )
            errors.append(
                ProviderUnavailable(f"{name} was not called: {why}", reason=Reason.OTHER, operation=operation)
            )
        return AllProvidersFailed(f"{operation} failed on every provider", errors=errors, operation=operation)


def _bind_probe(probe: Callable[[A, float], object], adapter: A) -> Callable[[float], object]:
    def run(timeout: float) -> object:
        return probe(adapter, timeout)

    return run

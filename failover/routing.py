"""Which endpoint a call tries first: small router objects over a `HealthRegistry`, and hedged reads.

- `PriorityRouter` (the default): configured order, DEGRADED ones after the others, DOWN ones left
  out, unless every endpoint is DOWN and the caller asks for a last resort.
- `LatencyRouter`: the lowest latency EWMA first, with hysteresis: a challenger takes the lead only
  when it has been better by ``margin`` for ``hold`` seconds, so the order does not flap.
- `hedged_call` with a `HedgePolicy`: send a read to the first endpoint; if it has not answered within
  the hedge delay (its p95, or a fixed value), send it to the next too; take the first success and
  discard the other's result when it comes. A token budget caps hedges at ``budget_ratio`` of reads.

A router's ``order()`` is on every call's path: it returns a cached tuple until an endpoint changes
state (the registry's ``generation``), or, for latency, until ``refresh`` seconds have passed.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, Literal, Protocol, TypeVar

from failover.errors import AllProvidersFailed, ConfigError, Disposition, FailoverError, ProviderUnavailable, Reason
from failover.health.registry import HealthRegistry
from failover.health.store import HealthState
from failover.policy.budget import RequestBudget
from failover.policy.classify import classify
from failover.policy.deadline import Deadline

__all__ = ["HedgePolicy", "LatencyRouter", "PriorityRouter", "Router", "close_quietly", "hedged_call"]

logger = logging.getLogger("failover.routing")

T = TypeVar("T")
_Order = tuple[str, ...]


class Router(Protocol):
    def order(self, *, last_resort: bool = False) -> Sequence[str]:
        """The endpoints to try for one call, best first. DOWN endpoints appear only when every
        endpoint is DOWN and ``last_resort`` is true."""
        ...


def _names(health: HealthRegistry, endpoints: Sequence[str] | None) -> _Order:
    names = tuple(endpoints) if endpoints is not None else health.names
    unknown = [name for name in names if name not in health]
    if unknown or not names:
        raise ConfigError(f"a router needs endpoints known to its health registry; unknown: {unknown}", field="routing")
    return names


class PriorityRouter:
    """Configured order; DEGRADED after the rest (unless ``demote_degraded`` is false); DOWN left out."""

    def __init__(
        self, health: HealthRegistry, endpoints: Sequence[str] | None = None, *, demote_degraded: bool = True
    ) -> None:
        self.health = health
        self.endpoints = _names(health, endpoints)
        self.demote_degraded = demote_degraded
        self._cache: tuple[int, _Order, _Order] = (-1, (), ())

    def order(self, *, last_resort: bool = False) -> _Order:
        generation, serving, down = self._cache
        if generation != self.health.generation:
            generation, serving, down = self._cache = self._compute()
        return serving if serving or not last_resort else down

    def _compute(self) -> tuple[int, _Order, _Order]:
        generation = self.health.generation  # read first: a change during the computation invalidates it
        first: list[str] = []
        later: list[str] = []
        down: list[str] = []
        for name in self.endpoints:
            state = self.health[name].state
            if state is HealthState.DOWN:
                down.append(name)
            elif state is HealthState.DEGRADED and self.demote_degraded:
                later.append(name)
            else:
                first.append(name)
        return generation, (*first, *later), tuple(down)


class LatencyRouter:
    """Lowest EWMA first, the leader kept until a challenger is better by ``margin`` for ``hold`` s."""

    def __init__(
        self,
        health: HealthRegistry,
        endpoints: Sequence[str] | None = None,
        *,
        margin: float = 0.2,
        hold: float = 5.0,
        refresh: float = 0.1,
    ) -> None:
        if not 0.0 <= margin < 1.0 or hold < 0 or refresh < 0:
            raise ConfigError("latency routing needs 0 <= margin < 1 and non-negative hold, refresh", field="routing")
        self.health = health
        self.endpoints = _names(health, endpoints)
        self.margin = margin
        self.hold = hold
        self.refresh = refresh
        self._clock = health.clock
        self._lock = threading.Lock()
        self._leader = self.endpoints[0]
        self._challenger: str | None = None
        self._challenger_since = 0.0
        self._cache: tuple[int, float, _Order, _Order] = (-1, -math.inf, (), ())

    @property
    def leader(self) -> str:
        return self._leader

    def order(self, *, last_resort: bool = False) -> _Order:
        generation, expires, serving, down = self._cache
        if generation != self.health.generation or self._clock.monotonic() >= expires:
            with self._lock:  # held only to recompute, never across a call
                generation, expires, serving, down = self._cache
                if generation != self.health.generation or self._clock.monotonic() >= expires:
                    generation, expires, serving, down = self._cache = self._compute()
        return serving if serving or not last_resort else down

    def _compute(self) -> tuple[int, float, _Order, _Order]:
        generation = self.health.generation
        now = self._clock.monotonic()
        serving = [name for name in self.endpoints if self.health[name].state is not HealthState.DOWN]
        down = tuple(name for name in self.endpoints if name not in serving)
        ewma = {name: self.health[name].ewma for name in serving}
        rank = {name: index for index, name in enumerate(self.endpoints)}
        by_latency = sorted(serving, key=lambda name: (ewma[name] is None, ewma[name] or 0.0, rank[name]))
        if self._leader not in serving:
            self._leader = by_latency[0] if by_latency else self.endpoints[0]
            self._challenger = None
        elif by_latency:
            self._contest(by_latency, ewma, now)
        ordered = [self._leader] if self._leader in serving else []
        ordered += [name for name in by_latency if name != self._leader]
        return generation, now + self.refresh, tuple(ordered), down

    def _contest(self, by_latency: list[str], ewma: dict[str, float | None], now: float) -> None:
        challenger = next((name for name in by_latency if name != self._leader), None)
        ours = ewma[self._leader]
        theirs = ewma[challenger] if challenger is not None else None
        if challenger is None or theirs is None or ours is None or theirs >= ours * (1.0 - self.margin):
            self._challenger = None
            return
        if self._challenger != challenger:
            self._challenger, self._challenger_since = challenger, now
        if now - self._challenger_since >= self.hold:
            logger.info(
                "latency routing: %s leads (EWMA %.1f ms); was %s (%.1f ms)",
                challenger,
                theirs * 1e3,
                self._leader,
                ours * 1e3,
            )
            self._leader, self._challenger = challenger, None


class HedgePolicy:
    """When to send a read to a second endpoint, and how many such extra reads to allow.

    ``delay`` is ``"p95"`` (the first endpoint's p95, or ``default_delay`` before it has any) or a
    fixed number of seconds; either is kept within ``[min_delay, max_delay]``. Each hedged call
    deposits ``budget_ratio`` of a token and each hedge spends one, so hedges stay near 5% of reads.
    Give each FailoverStorage its own policy: the budget is shared by whoever holds the policy.
    """

    def __init__(
        self,
        delay: Literal["p95"] | float = "p95",
        budget_ratio: float = 0.05,
        *,
        default_delay: float = 0.05,
        min_delay: float = 0.002,
        max_delay: float = 2.0,
        max_hedges: int = 1,
        budget: RequestBudget | None = None,
    ) -> None:
        if delay != "p95" and not (isinstance(delay, int | float) and delay >= 0):
            raise ConfigError(f'a hedge delay is "p95" or seconds, not {delay!r}', field="hedge_delay")
        if not 0 <= min_delay <= max_delay or max_hedges < 0:
            raise ConfigError("hedging needs 0 <= min_delay <= max_delay and max_hedges >= 0", field="hedge_delay")
        self.delay = delay
        self.default_delay = default_delay
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.max_hedges = max_hedges
        self.budget = budget if budget is not None else RequestBudget(budget_ratio, min_per_second=0.0, capacity=10.0)

    def delay_for(self, p95: float | None) -> float:
        """Seconds to wait for an endpoint whose p95 latency is ``p95`` before hedging."""
        fixed = self.delay
        seconds = float(fixed) if not isinstance(fixed, str) else self.default_delay if p95 is None else p95
        return min(self.max_delay, max(self.min_delay, seconds))


def close_quietly(value: object) -> None:
    """Close a hedge loser's result if it can be closed (an `ObjectReader`); never raise."""
    close = getattr(value, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            logger.debug("closing a discarded hedge result failed", exc_info=True)


def _discard_later(future: futures.Future[Any], discard: Callable[[Any], None]) -> None:
    def done(finished: futures.Future[Any]) -> None:
        if not finished.cancelled() and finished.exception() is None:
            discard(finished.result())

    future.cancel()
    future.add_done_callback(done)


def hedged_call(
    fn_by_endpoint: Callable[[str], T],
    order: Sequence[str],
    executor: futures.Executor,
    *,
    policy: HedgePolicy,
    health: HealthRegistry | None = None,
    deadline: Deadline | None = None,
    discard: Callable[[T], None] = close_quietly,
    on_hedge: Callable[[str], None] | None = None,
) -> T:
    """``fn_by_endpoint(name)`` on ``order[0]``, hedged to the next endpoints; the first success wins.

    A failure (RETRY or FAILOVER) with nothing else in flight moves on to the next endpoint at once
    (a failover, outside the hedge budget); a FATAL error is the answer and is raised. When every
    endpoint failed, or the deadline passed, `AllProvidersFailed` holds each endpoint's error. The
    hedge delay is waited on the calls themselves (real time); the deadline is read from its clock.
    Results that lose the race are passed to ``discard`` when they arrive. ``on_hedge(name)`` hears
    each hedge as it is sent (an observer's count; a failover after a failure is not a hedge).
    """
    if not order:
        raise AllProvidersFailed("no endpoint to call")
    policy.budget.record_request()
    queue = list(order)
    pending: dict[futures.Future[T], str] = {}
    errors: list[FailoverError] = []
    hedges = 0

    def launch() -> float:
        name = queue.pop(0)
        pending[executor.submit(fn_by_endpoint, name)] = name
        tracker = health[name] if health is not None and name in health else None
        return policy.delay_for(tracker.p95 if tracker is not None else None)

    hedge_delay = launch()
    try:
        while pending:
            can_hedge = bool(queue) and hedges < policy.max_hedges
            left = deadline.remaining() if deadline is not None else None
            timeout = hedge_delay if can_hedge and (left is None or hedge_delay < left) else left
            done, _ = futures.wait(pending, timeout=timeout, return_when=futures.FIRST_COMPLETED)
            for future in sorted(done, key=lambda finished: finished.exception() is not None):  # successes first
                del pending[future]
                error = future.exception()
                if error is None:
                    return future.result()
                if classify(error) is Disposition.FATAL or not isinstance(error, FailoverError):
                    raise error
                errors.append(error)
            if done:
                if not pending and queue and (deadline is None or deadline.can_start_attempt()):
                    hedge_delay = launch()  # failover: the endpoint in flight failed
                continue
            if deadline is not None and deadline.expired:
                break
            if can_hedge and policy.budget.try_spend():
                hedges += 1
                if on_hedge is not None:
                    on_hedge(queue[0])
                hedge_delay = launch()
            else:
                hedges = policy.max_hedges  # no budget: wait for what is in flight
        for name in pending.values():
            errors.append(ProviderUnavailable(f"{name}: no answer before the deadline", reason=Reason.READ_TIMEOUT))
        raise AllProvidersFailed("every endpoint failed", errors=errors)
    finally:
        for future in pending:
            _discard_later(future, discard)

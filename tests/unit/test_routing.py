"""Routers (priority, latency with hysteresis) and hedged reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from failover.clock import ManualClock
from failover.errors import AllProvidersFailed, ConfigError, NotFound, ProviderUnavailable, Reason
from failover.health.registry import DegradedPolicy, HealthRegistry
from failover.policy.budget import RequestBudget
from failover.policy.deadline import Deadline
from failover.routing import HedgePolicy, LatencyRouter, PriorityRouter, hedged_call

A, B, C = "aws:s3:a", "gcp:gcs:b", "azure:blob:c"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def health(clock: ManualClock) -> HealthRegistry:
    return HealthRegistry([A, B, C], clock=clock, degraded=DegradedPolicy(enabled=False))


def down(health: HealthRegistry, *names: str) -> None:
    for name in names:
        health[name].record_failure(ProviderUnavailable("dns", reason=Reason.DNS))


def feed(health: HealthRegistry, name: str, latency: float, count: int = 10) -> None:
    for _ in range(count):
        health[name].record_success(latency)


# -- priority --------------------------------------------------------------------------------------


def test_priority_keeps_the_configured_order_when_all_are_healthy(health: HealthRegistry) -> None:
    assert PriorityRouter(health).order() == (A, B, C)


def test_priority_leaves_down_endpoints_out(health: HealthRegistry) -> None:
    down(health, A)
    assert PriorityRouter(health).order() == (B, C)


def test_priority_puts_degraded_endpoints_after_the_rest(health: HealthRegistry) -> None:
    health[A].set_degraded(True, "slow")
    assert PriorityRouter(health).order() == (B, C, A)


def test_priority_can_keep_degraded_endpoints_in_place(health: HealthRegistry) -> None:
    health[A].set_degraded(True, "slow")
    assert PriorityRouter(health, demote_degraded=False).order() == (A, B, C)


def test_priority_keeps_a_probing_endpoint_in_place_for_its_trial_calls(health: HealthRegistry) -> None:
    down(health, A)
    health[A].probe_succeeded(0.01)
    assert PriorityRouter(health).order() == (A, B, C)


def test_priority_offers_nothing_when_all_are_down(health: HealthRegistry) -> None:
    down(health, A, B, C)
    assert PriorityRouter(health).order() == ()


def test_priority_offers_down_endpoints_as_a_last_resort_when_all_are_down(health: HealthRegistry) -> None:
    down(health, C, A, B)
    assert PriorityRouter(health).order(last_resort=True) == (A, B, C)


def test_a_last_resort_adds_no_down_endpoint_while_another_serves(health: HealthRegistry) -> None:
    down(health, A, B)
    assert PriorityRouter(health).order(last_resort=True) == (C,)


def test_priority_follows_a_subset_in_its_own_order(health: HealthRegistry) -> None:
    assert PriorityRouter(health, [C, A]).order() == (C, A)


def test_priority_reuses_its_order_until_a_state_changes(health: HealthRegistry) -> None:
    router = PriorityRouter(health)
    first = router.order()
    assert router.order() is first
    down(health, B)
    assert router.order() == (A, C)


def test_a_router_over_unknown_endpoints_is_refused(health: HealthRegistry) -> None:
    with pytest.raises(ConfigError, match="unknown"):
        PriorityRouter(health, [A, "nowhere:x:y"])


# -- latency ---------------------------------------------------------------------------------------


def test_latency_leads_with_the_first_configured_before_any_measure(health: HealthRegistry) -> None:
    assert LatencyRouter(health).order() == (A, B, C)


def test_latency_orders_the_followers_by_ewma_unmeasured_last(health: HealthRegistry) -> None:
    feed(health, C, 0.01)
    feed(health, A, 0.05)
    assert LatencyRouter(health).order() == (A, C, B)


def test_a_faster_challenger_leads_after_holding_its_margin(health: HealthRegistry, clock: ManualClock) -> None:
    router = LatencyRouter(health, hold=5.0, refresh=0.0)
    feed(health, A, 0.1)
    feed(health, B, 0.05)
    router.order()
    clock.advance(5.0)
    assert router.order()[0] == B


def test_a_faster_challenger_does_not_lead_before_the_hold(health: HealthRegistry, clock: ManualClock) -> None:
    router = LatencyRouter(health, hold=5.0, refresh=0.0)
    feed(health, A, 0.1)
    feed(health, B, 0.05)
    router.order()
    clock.advance(4.9)
    assert router.order()[0] == A


def test_a_challenger_within_the_margin_never_leads(health: HealthRegistry, clock: ManualClock) -> None:
    router = LatencyRouter(health, margin=0.2, hold=1.0, refresh=0.0)
    feed(health, A, 0.1)
    feed(health, B, 0.085)
    router.order()
    clock.advance(60.0)
    assert router.order()[0] == A


def test_a_challenger_that_falls_back_restarts_its_hold(health: HealthRegistry, clock: ManualClock) -> None:
    router = LatencyRouter(health, hold=5.0, refresh=0.0)
    feed(health, A, 0.1)
    feed(health, B, 0.05)
    router.order()
    clock.advance(3.0)
    feed(health, B, 0.5, count=20)
    router.order()
    feed(health, B, 0.05, count=40)
    router.order()
    clock.advance(3.0)
    assert router.order()[0] == A


def test_a_down_leader_is_replaced_at_once_by_the_fastest(health: HealthRegistry) -> None:
    router = LatencyRouter(health, refresh=0.0)
    feed(health, B, 0.09)
    feed(health, C, 0.03)
    router.order()
    down(health, A)
    assert router.order() == (C, B)


# -- hedging ---------------------------------------------------------------------------------------


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


def funded(delay: float = 0.001, tokens: int = 5) -> HedgePolicy:
    policy = HedgePolicy(delay, min_delay=0.0, budget=RequestBudget(1.0, min_per_second=0.0, capacity=100.0))
    for _ in range(tokens):
        policy.budget.record_request()
    return policy


class Endpoints:
    """Per endpoint: a result, an error, or a gate the call waits on before answering."""

    def __init__(self, results: dict[str, object], gates: dict[str, threading.Event] | None = None) -> None:
        self.results = results
        self.gates = gates or {}
        self.called: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, name: str) -> object:
        with self._lock:
            self.called.append(name)
        gate = self.gates.get(name)
        if gate is not None:
            gate.wait(timeout=10.0)
        result = self.results[name]
        if isinstance(result, BaseException):
            raise result
        return result


class Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()


def test_an_answer_within_the_delay_is_not_hedged(executor: ThreadPoolExecutor) -> None:
    endpoints = Endpoints({A: "from a", B: "from b"})
    assert hedged_call(endpoints, [A, B], executor, policy=funded(delay=5.0)) == "from a"
    assert endpoints.called == [A]


def test_a_slow_first_endpoint_is_hedged_and_the_second_answers(executor: ThreadPoolExecutor) -> None:
    gate = threading.Event()
    endpoints = Endpoints({A: "from a", B: "from b"}, {A: gate})
    try:
        assert hedged_call(endpoints, [A, B], executor, policy=funded()) == "from b"
    finally:
        gate.set()
    assert endpoints.called == [A, B]


def test_the_losers_result_is_closed_when_it_arrives(executor: ThreadPoolExecutor) -> None:
    gate = threading.Event()
    loser = Reader(A)
    endpoints = Endpoints({A: loser, B: Reader(B)}, {A: gate})
    winner = hedged_call(endpoints, [A, B], executor, policy=funded())
    gate.set()
    assert loser.closed.wait(timeout=10.0), "the losing reader was never closed"
    assert isinstance(winner, Reader)
    assert not winner.closed.is_set()


def test_a_hedge_spends_a_token(executor: ThreadPoolExecutor) -> None:
    gate = threading.Event()
    policy = funded(tokens=3)
    try:
        hedged_call(Endpoints({A: "a", B: "b"}, {A: gate}), [A, B], executor, policy=policy)
    finally:
        gate.set()
    assert policy.budget.available == pytest.approx(3.0)  # 3 deposited, 1 for this read, 1 spent


def test_no_hedge_without_budget(executor: ThreadPoolExecutor) -> None:
    gate = threading.Event()
    endpoints = Endpoints({A: "from a", B: "from b"}, {A: gate})
    policy = HedgePolicy(0.001, min_delay=0.0, budget=RequestBudget(0.0, min_per_second=0.0))
    threading.Timer(0.005, gate.set).start()
    assert hedged_call(endpoints, [A, B], executor, policy=policy) == "from a"
    assert endpoints.called == [A]


def test_a_failure_moves_on_to_the_next_endpoint_without_budget(executor: ThreadPoolExecutor) -> None:
    endpoints = Endpoints({A: ProviderUnavailable("refused", reason=Reason.REFUSED), B: "from b"})
    policy = HedgePolicy(5.0, budget=RequestBudget(0.0, min_per_second=0.0))
    assert hedged_call(endpoints, [A, B], executor, policy=policy) == "from b"
    assert endpoints.called == [A, B]


def test_a_fatal_answer_is_raised_and_nothing_else_is_called(executor: ThreadPoolExecutor) -> None:
    endpoints = Endpoints({A: NotFound("no such key"), B: "from b"})
    with pytest.raises(NotFound):
        hedged_call(endpoints, [A, B], executor, policy=funded(delay=5.0))
    assert endpoints.called == [A]


def test_every_endpoint_failing_raises_all_their_errors_in_order(executor: ThreadPoolExecutor) -> None:
    first = ProviderUnavailable("refused", reason=Reason.REFUSED)
    second = ProviderUnavailable("dns", reason=Reason.DNS)
    with pytest.raises(AllProvidersFailed) as raised:
        hedged_call(Endpoints({A: first, B: second}), [A, B], executor, policy=funded(delay=5.0))
    assert raised.value.errors == (first, second)


def test_no_endpoint_to_call_raises(executor: ThreadPoolExecutor) -> None:
    with pytest.raises(AllProvidersFailed):
        hedged_call(Endpoints({}), [], executor, policy=funded())


def test_a_passed_deadline_gives_up_on_calls_in_flight(executor: ThreadPoolExecutor, clock: ManualClock) -> None:
    gate = threading.Event()
    deadline = Deadline(1.0, clock)
    clock.advance(2.0)
    try:
        with pytest.raises(AllProvidersFailed) as raised:
            hedged_call(Endpoints({A: "late", B: "b"}, {A: gate}), [A, B], executor, policy=funded(), deadline=deadline)
    finally:
        gate.set()
    assert [(type(error), getattr(error, "reason", None)) for error in raised.value.errors] == [
        (ProviderUnavailable, Reason.READ_TIMEOUT)
    ]


def test_the_hedge_delay_is_the_p95_of_the_endpoint(health: HealthRegistry) -> None:
    feed(health, A, 0.03, count=100)
    policy = HedgePolicy("p95")
    assert policy.delay_for(health[A].p95) == pytest.approx(0.03)


def test_the_hedge_delay_before_any_measure_is_the_default() -> None:
    assert HedgePolicy("p95", default_delay=0.07).delay_for(None) == 0.07


def test_a_fixed_hedge_delay_ignores_the_p95() -> None:
    assert HedgePolicy(0.01).delay_for(0.5) == 0.01


def test_the_hedge_delay_is_kept_within_its_bounds() -> None:
    policy = HedgePolicy("p95", min_delay=0.005, max_delay=1.0)
    assert (policy.delay_for(0.0001), policy.delay_for(30.0)) == (0.005, 1.0)


def test_reads_earn_one_hedge_in_twenty_by_default() -> None:
    policy = HedgePolicy()
    for _ in range(20):
        policy.budget.record_request()
    assert policy.budget.try_spend()
    assert not policy.budget.try_spend()


def test_a_hedge_delay_that_is_neither_p95_nor_seconds_is_refused() -> None:
    with pytest.raises(ConfigError):
        HedgePolicy("p99")  # type: ignore[arg-type]

"""Retry and hedge budgets: extra requests capped at a fraction of real ones, plus a small reserve."""

from __future__ import annotations

import threading

import pytest

from failover.clock import ManualClock
from failover.errors import ConfigError, ProviderUnavailable
from failover.policy import Deadline, RetryPolicy
from failover.policy.budget import RequestBudget, RetryBudget
from failover.testing.faulty import server_error


def spend_all(budget: RequestBudget) -> int:
    spent = 0
    while budget.try_spend():
        spent += 1
    return spent


def test_the_reserve_starts_full() -> None:
    budget = RetryBudget(min_per_second=5.0, clock=ManualClock())
    assert spend_all(budget) == 5


def test_each_request_deposits_the_ratio() -> None:
    budget = RetryBudget(0.1, min_per_second=0.0)
    for _ in range(30):
        budget.record_request()
    assert spend_all(budget) == 3


def test_an_empty_budget_refuses_and_withdraws_nothing() -> None:
    budget = RetryBudget(0.5, min_per_second=0.0)
    budget.record_request()
    assert not budget.try_spend()
    budget.record_request()
    assert budget.try_spend()


def test_deposits_are_capped_so_quiet_spells_bank_no_burst() -> None:
    budget = RetryBudget(0.5, min_per_second=0.0, capacity=4.0)
    for _ in range(1000):
        budget.record_request()
    assert spend_all(budget) == 4


def test_the_reserve_refills_at_min_per_second() -> None:
    clock = ManualClock()
    budget = RetryBudget(min_per_second=2.0, clock=clock)
    spend_all(budget)
    clock.advance(0.5)
    assert spend_all(budget) == 1


def test_the_reserve_holds_at_most_one_second_of_refill() -> None:
    clock = ManualClock()
    budget = RetryBudget(min_per_second=2.0, clock=clock)
    spend_all(budget)
    clock.advance(60.0)
    assert spend_all(budget) == 2


def test_a_provider_failing_every_call_sees_about_one_point_one_times_the_load() -> None:
    clock = ManualClock()
    budget = RetryBudget(0.1, min_per_second=1.0, clock=clock)
    requests = retries = 0
    for _ in range(1000):  # 100 requests a second for 10 s, each failing and asking to retry
        budget.record_request()
        requests += 1
        if budget.try_spend():
            retries += 1
        clock.advance(0.01)
    assert retries <= 0.1 * requests + 1.0 * 10 + 1
    assert (requests + retries) / requests < 1.12


def test_concurrent_deposits_are_not_lost() -> None:
    budget = RequestBudget(0.001, min_per_second=0.0, capacity=1e9)

    def deposit() -> None:
        for _ in range(5000):
            budget.record_request()

    threads = [threading.Thread(target=deposit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.available == pytest.approx(20.0)


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_a_ratio_outside_zero_to_one_is_refused(ratio: float) -> None:
    with pytest.raises(ConfigError, match="ratio"):
        RetryBudget(ratio)


def test_a_negative_capacity_is_refused() -> None:
    with pytest.raises(ConfigError, match="capacity"):
        RequestBudget(capacity=-1.0)


def test_budget_reserve_and_replication_pace_share_one_token_bucket() -> None:
    # One rate limiter in the library: the retry budget's reserve is a TokenBucket on the same clock.
    from failover.policy.bucket import TokenBucket

    clock = ManualClock()
    bucket = TokenBucket(2.0, burst=2.0, clock=clock)
    assert [bucket.try_take() for _ in range(3)] == [True, True, False], "the burst is not the bucket's size"
    clock.advance(0.5)
    assert bucket.try_take(), "half a second at 2 a second refilled no token"
    assert not bucket.try_take()


def test_dead_provider_at_a_low_rate_gets_at_most_twice_its_requests() -> None:
    # What the README says: 1.1x plus 10 a second; at 5 requests a second the reserve funds every retry.
    clock = ManualClock()
    budget = RetryBudget(clock=clock)
    retries = 0
    for _ in range(50):  # 10 seconds at 5 requests a second
        budget.record_request()
        retries += budget.try_spend()
        clock.advance(0.2)
    assert retries <= 50, retries
    assert retries >= 45, f"the reserve funded only {retries} of 50 retries at a low rate"


@pytest.mark.parametrize(("rate", "load"), [(1, 2.0), (10, 2.0), (20, 1.6), (50, 1.3), (100, 1.2), (1000, 1.11)])
def test_a_dead_providers_load_under_the_default_budget_is_what_the_readme_says(rate: int, load: float) -> None:
    # The README's table: requests that reach a provider failing every call with a 503, per call,
    # with the default policy (2 attempts, 10% of requests plus 10 retries a second), in the steady
    # state (after 5 s at that rate, over the next 5 s); the breaker left out.
    clock = ManualClock()
    attempts = 0

    def attempt(timeout: float) -> None:
        nonlocal attempts
        attempts += 1
        raise server_error()

    policy = RetryPolicy(budget=RetryBudget(clock=clock), base=0.0, sleep=lambda seconds: None)
    for _phase in ("warm-up", "measured"):
        attempts = 0
        for _ in range(5 * rate):
            with pytest.raises(ProviderUnavailable):
                policy.call(attempt, Deadline(10.0, clock))
            clock.advance(1 / rate)
    assert attempts / (5 * rate) == pytest.approx(load, abs=0.005), f"at {rate} requests a second"

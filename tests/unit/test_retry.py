"""Retries on one provider: direct first attempt, tenacity after a RETRY failure, deadline and budget."""

from __future__ import annotations

from typing import Any

import pytest
from tenacity import RetryCallState, Retrying

from failover.clock import ManualClock
from failover.errors import ConfigError, Disposition, NotFound, ProviderUnavailable, Reason
from failover.health.tracker import HealthTracker
from failover.policy import retry as retry_module
from failover.policy.budget import RetryBudget
from failover.policy.deadline import Deadline
from failover.policy.retry import FullJitterWait, RetryPolicy


def throttled(n: int = 0) -> ProviderUnavailable:
    return ProviderUnavailable(f"slow down {n}", reason=Reason.THROTTLED, disposition=Disposition.RETRY)


class Script:
    """An attempt function that plays a script of outcomes and records the timeouts it was given."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.timeouts: list[float] = []

    def __call__(self, timeout: float) -> object:
        self.timeouts.append(timeout)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def waits() -> list[float]:
    return []


def policy(waits: list[float], **kwargs: Any) -> RetryPolicy:
    kwargs.setdefault("budget", RetryBudget(min_per_second=10.0, clock=ManualClock()))
    kwargs.setdefault("random", lambda: 1.0)
    return RetryPolicy(sleep=waits.append, **kwargs)


def test_a_first_success_is_returned_without_waiting(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script("data")
    assert policy(waits).call(attempt, Deadline(10.0, clock)) == "data"
    assert (len(attempt.timeouts), waits) == (1, [])


def test_a_first_success_builds_no_tenacity_retrying(
    clock: ManualClock, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tenacity was used on the happy path")

    monkeypatch.setattr(retry_module, "Retrying", refuse)
    assert policy(waits).call(Script("data"), Deadline(10.0, clock)) == "data"


def test_the_attempt_gets_the_per_attempt_timeout_when_time_is_ample(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script("data")
    policy(waits, attempt_timeout=2.0).call(attempt, Deadline(10.0, clock))
    assert attempt.timeouts == [2.0]


def test_the_attempt_gets_what_the_deadline_leaves_when_that_is_shorter(clock: ManualClock, waits: list[float]) -> None:
    deadline = Deadline(10.0, clock)
    clock.advance(9.0)
    attempt = Script("data")
    policy(waits, attempt_timeout=2.0).call(attempt, deadline)
    assert attempt.timeouts == [pytest.approx(1.0)]


def test_a_retry_failure_is_retried_and_the_success_returned(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(throttled(), "data")
    assert policy(waits).call(attempt, Deadline(10.0, clock)) == "data"
    assert len(attempt.timeouts) == 2


def test_the_wait_before_a_retry_is_full_jitter_below_the_base(clock: ManualClock, waits: list[float]) -> None:
    policy(waits, base=0.2, random=lambda: 0.25).call(Script(throttled(), "data"), Deadline(10.0, clock))
    assert waits == [pytest.approx(0.05)]


def test_waits_double_up_to_the_cap(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(throttled(1), throttled(2), throttled(3), throttled(4), "data")
    policy(waits, max_attempts=5, base=0.1, cap=0.3).call(attempt, Deadline(10.0, clock))
    assert waits == [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.3), pytest.approx(0.3)]


def test_attempts_stop_at_max_attempts_with_the_last_error(clock: ManualClock, waits: list[float]) -> None:
    last = throttled(2)
    attempt = Script(throttled(1), last, "never reached")
    with pytest.raises(ProviderUnavailable) as raised:
        policy(waits, max_attempts=2).call(attempt, Deadline(10.0, clock))
    assert raised.value is last
    assert len(attempt.timeouts) == 2


def test_one_max_attempt_means_no_retry(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(throttled(), "never reached")
    with pytest.raises(ProviderUnavailable):
        policy(waits, max_attempts=1).call(attempt, Deadline(10.0, clock))
    assert len(attempt.timeouts) == 1


def test_a_failover_error_is_not_retried_on_the_same_provider(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(ProviderUnavailable("refused", reason=Reason.REFUSED), "never reached")
    with pytest.raises(ProviderUnavailable, match="refused"):
        policy(waits).call(attempt, Deadline(10.0, clock))
    assert (len(attempt.timeouts), waits) == (1, [])


def test_a_fatal_error_is_not_retried(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(NotFound("no such key"), "never reached")
    with pytest.raises(NotFound):
        policy(waits).call(attempt, Deadline(10.0, clock))
    assert len(attempt.timeouts) == 1


def test_a_bug_is_not_retried(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(TypeError("our bug"), "never reached")
    with pytest.raises(TypeError):
        policy(waits).call(attempt, Deadline(10.0, clock))
    assert len(attempt.timeouts) == 1


def test_a_failover_error_on_the_retry_ends_the_retries(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(throttled(), ProviderUnavailable("refused", reason=Reason.REFUSED), "never reached")
    with pytest.raises(ProviderUnavailable, match="refused"):
        policy(waits, max_attempts=5).call(attempt, Deadline(10.0, clock))
    assert len(attempt.timeouts) == 2


def test_an_empty_budget_returns_the_error_at_once(clock: ManualClock, waits: list[float]) -> None:
    empty = RetryBudget(min_per_second=0.0)
    attempt = Script(throttled(), "never reached")
    with pytest.raises(ProviderUnavailable):
        policy(waits, budget=empty).call(attempt, Deadline(10.0, clock))
    assert (len(attempt.timeouts), waits) == (1, [])


def test_a_retry_spends_one_token(clock: ManualClock, waits: list[float]) -> None:
    budget = RetryBudget(0.0, min_per_second=3.0, clock=clock)
    policy(waits, budget=budget).call(Script(throttled(), "data"), Deadline(10.0, clock))
    assert budget.available == pytest.approx(2.0)


def test_each_call_deposits_into_the_budget(clock: ManualClock, waits: list[float]) -> None:
    budget = RetryBudget(0.1, min_per_second=0.0)
    retrying = policy(waits, budget=budget)
    for _ in range(10):
        retrying.call(Script("data"), Deadline(10.0, clock))
    assert budget.available == pytest.approx(1.0)


def test_no_retry_when_the_wait_would_leave_less_than_the_floor(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(throttled(), "never reached")
    with pytest.raises(ProviderUnavailable):
        policy(waits, base=1.0).call(attempt, Deadline(1.0, clock, floor=0.05))
    assert (len(attempt.timeouts), waits) == (1, [])


def test_a_retry_gets_the_time_left_after_its_wait(clock: ManualClock) -> None:
    attempt = Script(throttled(), "data")
    retrying = RetryPolicy(base=0.4, random=lambda: 1.0, sleep=clock.sleep, budget=RetryBudget(clock=clock))
    retrying.call(attempt, Deadline(1.0, clock))
    assert attempt.timeouts == [pytest.approx(1.0), pytest.approx(0.6)]


def test_on_failure_hears_each_failed_attempt_in_order_the_last_included(
    clock: ManualClock, waits: list[float]
) -> None:
    heard: list[BaseException] = []
    first, last = throttled(1), throttled(2)
    with pytest.raises(ProviderUnavailable):
        policy(waits, on_failure=heard.append).call(Script(first, last), Deadline(10.0, clock))
    assert heard == [first, last]


def test_on_failure_hears_errors_that_are_not_retried(clock: ManualClock, waits: list[float]) -> None:
    heard: list[BaseException] = []
    refused = ProviderUnavailable("refused", reason=Reason.REFUSED)
    with pytest.raises(ProviderUnavailable):
        policy(waits, on_failure=heard.append).call(Script(refused), Deadline(10.0, clock))
    assert heard == [refused]


def test_on_failure_hears_nothing_of_a_success(clock: ManualClock, waits: list[float]) -> None:
    heard: list[BaseException] = []
    policy(waits, on_failure=heard.append).call(Script("data"), Deadline(10.0, clock))
    assert heard == []


def test_no_retry_is_sent_once_admit_refuses(clock: ManualClock, waits: list[float]) -> None:
    attempt = Script(throttled(), "never reached")
    with pytest.raises(ProviderUnavailable):
        policy(waits, admit=lambda: False).call(attempt, Deadline(10.0, clock))
    assert (len(attempt.timeouts), waits) == (1, [])


def test_a_retry_is_sent_while_admit_allows(clock: ManualClock, waits: list[float]) -> None:
    asked: list[int] = []

    def admit() -> bool:
        asked.append(1)
        return True

    attempt = Script(throttled(), "data")
    assert policy(waits, admit=admit).call(attempt, Deadline(10.0, clock)) == "data"
    assert len(asked) == 1


def test_a_timing_out_provider_gets_no_call_past_the_threshold_with_retries_reported(clock: ManualClock) -> None:
    tracker = HealthTracker("aws:s3:orders", clock=clock)
    retrying = RetryPolicy(
        sleep=clock.sleep,
        budget=RetryBudget(clock=clock),
        on_failure=tracker.record_failure,
        admit=tracker.allow_request,
    )
    sent: list[float] = []

    def timing_out(timeout: float) -> object:
        sent.append(timeout)
        raise ProviderUnavailable("RequestTimeout", reason=Reason.READ_TIMEOUT, disposition=Disposition.RETRY)

    for _ in range(5):
        if tracker.allow_request():
            with pytest.raises(ProviderUnavailable):
                retrying.call(timing_out, Deadline(10.0, clock))
    assert len(sent) == tracker.policy.consecutive_failures


def retry_state(attempt_number: int) -> RetryCallState:
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt_number
    return state


def test_full_jitter_wait_scales_the_random_draw() -> None:
    draws = iter([0.0, 0.5])
    wait = FullJitterWait(0.2, 1.0, random=lambda: next(draws))
    assert wait(retry_state(1)) == 0.0
    assert wait(retry_state(2)) == pytest.approx(0.2)


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base": -1.0}, {"attempt_timeout": 0.0}])
def test_nonsense_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(**kwargs)

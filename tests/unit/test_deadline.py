"""Deadlines: each call's time, each attempt's share of it, and no attempt started without time."""

from __future__ import annotations

import pytest

from failover.clock import ManualClock
from failover.errors import ConfigError
from failover.policy.deadline import DEFAULT_DEADLINE, DEFAULT_FLOOR, Deadline


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_remaining_shrinks_as_the_clock_moves(clock: ManualClock) -> None:
    deadline = Deadline(2.0, clock)
    clock.advance(0.75)
    assert deadline.remaining() == pytest.approx(1.25)


def test_remaining_is_never_negative(clock: ManualClock) -> None:
    deadline = Deadline(1.0, clock)
    clock.advance(5.0)
    assert deadline.remaining() == 0.0


def test_expired_once_the_time_is_up_and_not_before(clock: ManualClock) -> None:
    deadline = Deadline(1.0, clock)
    clock.advance(0.999)
    assert not deadline.expired
    clock.advance(0.001)
    assert deadline.expired


def test_no_timeout_given_means_the_default(clock: ManualClock) -> None:
    assert Deadline(None, clock).remaining() == DEFAULT_DEADLINE == 10.0


def test_attempt_timeout_is_the_per_attempt_limit_when_time_is_ample(clock: ManualClock) -> None:
    assert Deadline(10.0, clock).attempt_timeout(2.0) == 2.0


def test_attempt_timeout_is_what_is_left_when_that_is_shorter(clock: ManualClock) -> None:
    deadline = Deadline(10.0, clock)
    clock.advance(9.5)
    assert deadline.attempt_timeout(2.0) == pytest.approx(0.5)


def test_attempt_timeout_without_a_limit_is_what_is_left(clock: ManualClock) -> None:
    deadline = Deadline(3.0, clock)
    clock.advance(1.0)
    assert deadline.attempt_timeout() == pytest.approx(2.0)


def test_an_attempt_is_not_started_with_less_than_the_floor_left(clock: ManualClock) -> None:
    deadline = Deadline(1.0, clock)
    clock.advance(1.0 - DEFAULT_FLOOR / 2)
    assert not deadline.can_start_attempt()


def test_an_attempt_is_started_with_the_floor_left(clock: ManualClock) -> None:
    deadline = Deadline(1.0, clock, floor=0.1)
    clock.advance(0.9)
    assert deadline.can_start_attempt()


def test_an_attempt_after_a_wait_counts_the_wait(clock: ManualClock) -> None:
    deadline = Deadline(1.0, clock, floor=0.05)
    assert deadline.can_start_attempt(after=0.9)
    assert not deadline.can_start_attempt(after=0.96)


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_a_deadline_must_be_positive(clock: ManualClock, seconds: float) -> None:
    with pytest.raises(ConfigError, match="positive"):
        Deadline(seconds, clock)

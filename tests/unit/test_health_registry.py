"""The trackers of one set of endpoints, and brownouts: far slower than the peers means DEGRADED."""

from __future__ import annotations

import random

import pytest

from failover.clock import ManualClock
from failover.errors import ConfigError, ProviderUnavailable, Reason
from failover.health.registry import DegradedPolicy, HealthRegistry
from failover.health.store import HealthState

FAST, SLOW = "aws:s3:orders", "gcp:gcs:orders"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def health(clock: ManualClock) -> HealthRegistry:
    return HealthRegistry([FAST, SLOW], clock=clock)


def feed(health: HealthRegistry, name: str, latency: float, count: int = 32) -> None:
    for _ in range(count):
        health[name].record_success(latency)


def test_one_tracker_per_endpoint_in_configured_order(health: HealthRegistry) -> None:
    assert [tracker.name for tracker in health] == [FAST, SLOW]


def test_an_endpoint_named_twice_is_refused(clock: ManualClock) -> None:
    with pytest.raises(ConfigError, match="twice"):
        HealthRegistry([FAST, FAST], clock=clock)


def test_the_generation_changes_with_a_state_change(health: HealthRegistry) -> None:
    before = health.generation
    health[SLOW].record_failure(ProviderUnavailable("dns", reason=Reason.DNS))
    assert health.generation != before


def test_the_generation_stays_on_the_happy_path(health: HealthRegistry) -> None:
    before = health.generation
    feed(health, FAST, 0.01)
    assert health.generation == before


def test_an_endpoint_far_slower_than_its_peer_is_degraded(health: HealthRegistry) -> None:
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.5)
    assert health.states() == {FAST: HealthState.HEALTHY, SLOW: HealthState.DEGRADED}


def test_an_endpoint_slower_but_under_the_floor_is_not_degraded(health: HealthRegistry) -> None:
    feed(health, FAST, 0.002)
    feed(health, SLOW, 0.05)
    assert health[SLOW].state is HealthState.HEALTHY


def test_an_endpoint_slower_by_less_than_the_factor_is_not_degraded(health: HealthRegistry) -> None:
    feed(health, FAST, 0.2)
    feed(health, SLOW, 0.5)
    assert health[SLOW].state is HealthState.HEALTHY


def test_too_few_samples_are_not_compared(clock: ManualClock) -> None:
    health = HealthRegistry([FAST, SLOW], clock=clock, degraded=DegradedPolicy(min_samples=50))
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.5)
    assert health[SLOW].state is HealthState.HEALTHY


def test_a_lone_endpoint_is_never_degraded(clock: ManualClock) -> None:
    health = HealthRegistry([SLOW], clock=clock)
    feed(health, SLOW, 5.0)
    assert health[SLOW].state is HealthState.HEALTHY


def test_a_degraded_endpoint_is_healthy_again_after_the_hold_and_re_measured(
    health: HealthRegistry, clock: ManualClock
) -> None:
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.5)
    clock.advance(health.degraded.hold)
    feed(health, FAST, 0.02, count=16)
    assert health[SLOW].state is HealthState.HEALTHY
    assert health[SLOW].ewma is None


def test_a_degraded_endpoint_whose_latency_recovers_is_healthy_again(
    health: HealthRegistry, clock: ManualClock
) -> None:
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.5)
    clock.advance(health[SLOW].policy.window)  # the slow calls leave the window; the hold is longer
    feed(health, SLOW, 0.02, count=64)
    assert health[SLOW].state is HealthState.HEALTHY


def test_degraded_checks_can_be_turned_off(clock: ManualClock) -> None:
    health = HealthRegistry([FAST, SLOW], clock=clock, degraded=DegradedPolicy(enabled=False))
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.5)
    assert health[SLOW].state is HealthState.HEALTHY


def test_a_down_endpoint_is_not_marked_degraded(health: HealthRegistry) -> None:
    feed(health, SLOW, 0.5)
    health[SLOW].open_circuit("test")
    feed(health, FAST, 0.02)
    assert health[SLOW].state is HealthState.DOWN


def test_failovers_reach_the_listeners(health: HealthRegistry) -> None:
    heard: list[tuple[str, str | None, str, BaseException]] = []
    health.events.on_failover.append(lambda *event: heard.append(event))
    error = ProviderUnavailable("refused", reason=Reason.REFUSED)
    health.failed_over(FAST, SLOW, "get", error)
    assert heard == [(FAST, SLOW, "get", error)]


@pytest.mark.parametrize("settings", [{"recover_factor": 4.0}, {"recover_factor": 0.5}, {"hold": 0.0}])
def test_nonsense_degraded_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        DegradedPolicy(**settings)  # type: ignore[arg-type]


def brownout(
    health: HealthRegistry, clock: ManualClock, seconds: float, *, only_when_healthy: bool = False
) -> list[HealthState]:
    """Ten calls a second for ``seconds``: to FAST at 20 ms, and to SLOW at 20 ms but a seeded third
    at 0.7 s (only while it is HEALTHY if ``only_when_healthy``, as reads routed by priority). SLOW's
    state after each tenth of a second."""
    states: list[HealthState] = []
    delayed = random.Random(1)
    for _ in range(int(seconds * 10)):
        clock.advance(0.1)
        health[FAST].record_success(0.02)
        if not only_when_healthy or health[SLOW].state is HealthState.HEALTHY:
            health[SLOW].record_success(0.7 if delayed.random() < 1 / 3 else 0.02)
        states.append(health[SLOW].state)
    return states


def test_an_endpoint_with_a_third_of_its_calls_slow_stays_degraded(health: HealthRegistry, clock: ManualClock) -> None:
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.02)
    states = brownout(health, clock, 25.0)  # under the 30 s hold
    demoted = states.index(HealthState.DEGRADED)
    assert demoted <= 30, f"demoted only after {demoted} calls"
    assert HealthState.HEALTHY not in states[demoted:], "a third of the calls slow, yet HEALTHY again"


def test_a_re_measured_endpoint_still_slow_is_demoted_again_within_a_few_seconds(
    health: HealthRegistry, clock: ManualClock
) -> None:
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.02)
    reasons: list[str] = []
    health.events.on_state_change.append(lambda name, old, new, reason: reasons.append(reason))
    states = brownout(health, clock, 90.0, only_when_healthy=True)
    re_measured = [reason for reason in reasons if reason.startswith("DEGRADED for")]
    assert len(re_measured) == 2, reasons  # after each 30 s hold
    assert states[-1] is HealthState.DEGRADED, reasons  # and demoted again each time
    healthy = states.count(HealthState.HEALTHY) / 10
    assert healthy <= 3 * 4.0, f"HEALTHY (served first, slow a third of the time) {healthy} s of 90 s"


def test_a_burst_of_slow_calls_within_one_second_does_not_demote(health: HealthRegistry, clock: ManualClock) -> None:
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.02)
    states: list[HealthState] = []
    for index in range(80):  # 8 s; in the third second, one call in four takes 0.15 s
        clock.advance(0.1)
        health[FAST].record_success(0.02)
        health[SLOW].record_success(0.15 if 20 <= index < 30 and index % 4 == 0 else 0.02)
        states.append(health[SLOW].state)
    assert set(states) == {HealthState.HEALTHY}


def test_a_re_measured_endpoint_that_healed_while_demoted_stays_healthy(
    health: HealthRegistry, clock: ManualClock
) -> None:
    feed(health, FAST, 0.02)
    feed(health, SLOW, 0.5)
    assert health[SLOW].state is HealthState.DEGRADED
    changes: list[HealthState] = []
    health.events.on_state_change.append(lambda name, old, new, reason: changes.append(new))
    for _ in range(int(health.degraded.hold * 10) - 5):  # background copies, slow until just before the hold
        clock.advance(0.1)
        health[FAST].record_success(0.02)
        health[SLOW].record_success(0.5)
    clock.advance(0.5)
    for _ in range(100):  # healed: every call fast
        clock.advance(0.1)
        health[FAST].record_success(0.02)
        health[SLOW].record_success(0.02)
    assert changes == [HealthState.HEALTHY], "demoted again for calls made before it was re-measured"

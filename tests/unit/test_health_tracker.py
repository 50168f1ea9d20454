"""One endpoint's circuit: when it opens, how it closes, what it counts."""

from __future__ import annotations

import logging

import pytest

from failover.clock import ManualClock
from failover.errors import AccessDenied, ConfigError, Disposition, NotFound, ProviderUnavailable, Reason
from failover.health.events import HealthEvents
from failover.health.store import HealthState, InMemoryHealthStore
from failover.health.tracker import HealthPolicy, HealthTracker


def unavailable(reason: Reason = Reason.CONNECT_TIMEOUT) -> ProviderUnavailable:
    return ProviderUnavailable(f"{reason.value}", reason=reason)


def server_error() -> ProviderUnavailable:
    return ProviderUnavailable("503", reason=Reason.SERVER_ERROR, disposition=Disposition.RETRY)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def tracker(clock: ManualClock) -> HealthTracker:
    return HealthTracker("aws:s3:orders", clock=clock)


def open_then_probe(tracker: HealthTracker) -> None:
    tracker.record_failure(unavailable(Reason.REFUSED))
    tracker.probe_succeeded(0.01)


def test_a_new_endpoint_is_healthy_and_takes_calls(tracker: HealthTracker) -> None:
    assert tracker.state is HealthState.HEALTHY
    assert tracker.allow_request()


@pytest.mark.parametrize(
    "error",
    [unavailable(Reason.REFUSED), unavailable(Reason.DNS), AccessDenied("credentials rejected")],
    ids=["refused", "dns", "auth"],
)
def test_one_refusal_dns_failure_or_rejected_credential_opens_the_circuit(
    tracker: HealthTracker, error: Exception
) -> None:
    tracker.record_failure(error)
    assert tracker.state is HealthState.DOWN


def test_three_failover_errors_in_a_row_open_the_circuit(tracker: HealthTracker) -> None:
    for _ in range(3):
        tracker.record_failure(unavailable())
    assert tracker.state is HealthState.DOWN


def test_two_failover_errors_in_a_row_do_not(tracker: HealthTracker) -> None:
    for _ in range(2):
        tracker.record_failure(unavailable())
    assert tracker.state is HealthState.HEALTHY


def test_a_success_restarts_the_count_of_failures_in_a_row(tracker: HealthTracker) -> None:
    tracker.record_failure(unavailable())
    tracker.record_failure(unavailable())
    tracker.record_success(0.01)
    tracker.record_failure(unavailable())
    tracker.record_failure(unavailable())
    assert tracker.state is HealthState.HEALTHY


def test_timeouts_marked_retry_count_toward_the_failures_in_a_row(tracker: HealthTracker) -> None:
    for _ in range(3):
        tracker.record_failure(
            ProviderUnavailable("read timeout", reason=Reason.READ_TIMEOUT, disposition=Disposition.RETRY)
        )
    assert tracker.state is HealthState.DOWN


def test_the_count_in_a_row_is_configurable(clock: ManualClock) -> None:
    tracker = HealthTracker("x", clock=clock, policy=HealthPolicy(consecutive_failures=5))
    for _ in range(4):
        tracker.record_failure(unavailable())
    assert tracker.state is HealthState.HEALTHY


def test_retryable_server_errors_do_not_count_in_a_row(tracker: HealthTracker) -> None:
    for _ in range(10):
        tracker.record_failure(server_error())
    assert tracker.state is HealthState.HEALTHY


def test_half_of_twenty_calls_failing_in_the_window_opens_the_circuit(tracker: HealthTracker) -> None:
    for _ in range(10):
        tracker.record_success(0.01)
    for _ in range(10):
        tracker.record_failure(server_error())
    assert tracker.state is HealthState.DOWN


def test_nine_failures_of_twenty_calls_do_not(tracker: HealthTracker) -> None:
    for _ in range(11):
        tracker.record_success(0.01)
    for _ in range(9):
        tracker.record_failure(server_error())
    assert tracker.state is HealthState.HEALTHY


def test_the_ratio_needs_the_minimum_number_of_calls(tracker: HealthTracker) -> None:
    for _ in range(19):
        tracker.record_failure(server_error())
    assert tracker.state is HealthState.HEALTHY


def test_failures_older_than_the_window_do_not_count(tracker: HealthTracker, clock: ManualClock) -> None:
    for _ in range(15):
        tracker.record_failure(server_error())
    clock.advance(11.0)
    for _ in range(15):
        tracker.record_success(0.01)
    for _ in range(5):
        tracker.record_failure(server_error())
    assert tracker.state is HealthState.HEALTHY


def test_fatal_errors_are_answers_not_failures(tracker: HealthTracker) -> None:
    for _ in range(30):
        tracker.record_failure(NotFound("no such key"))
    assert tracker.state is HealthState.HEALTHY
    assert (tracker.counters().calls, tracker.counters().failures) == (30, 0)


def test_a_down_endpoint_refuses_calls_and_counts_them(tracker: HealthTracker) -> None:
    tracker.record_failure(unavailable(Reason.DNS))
    assert not tracker.allow_request()
    assert not tracker.allow_request()
    assert tracker.counters().rejected == 2


def test_calls_ending_while_down_are_counted_and_change_nothing(tracker: HealthTracker) -> None:
    tracker.record_failure(unavailable(Reason.DNS))
    tracker.record_success(0.01)
    tracker.record_failure(unavailable())
    assert tracker.counters().calls_while_down == 2
    assert tracker.state is HealthState.DOWN


def test_a_probe_answer_moves_a_down_endpoint_to_probing(tracker: HealthTracker) -> None:
    open_then_probe(tracker)
    assert tracker.state is HealthState.PROBING


def test_a_failed_probe_leaves_the_endpoint_down_and_is_counted(tracker: HealthTracker) -> None:
    tracker.record_failure(unavailable(Reason.DNS))
    tracker.probe_failed(unavailable(Reason.DNS))
    assert tracker.state is HealthState.DOWN
    assert (tracker.counters().probes, tracker.counters().probe_failures) == (1, 1)


def test_probing_admits_a_limited_number_of_trial_calls(tracker: HealthTracker) -> None:
    open_then_probe(tracker)
    admitted = [tracker.allow_request() for _ in range(5)]
    assert admitted == [True, True, True, False, False]
    assert tracker.counters().trial_calls == 3


def test_a_finished_trial_call_frees_its_slot(tracker: HealthTracker) -> None:
    open_then_probe(tracker)
    for _ in range(3):
        tracker.allow_request()
    tracker.record_success(0.01)
    assert tracker.allow_request()


def test_trial_slots_never_reported_are_reused_after_the_trial_timeout(
    tracker: HealthTracker, clock: ManualClock
) -> None:
    open_then_probe(tracker)
    for _ in range(3):
        tracker.allow_request()
    clock.advance(tracker.policy.trial_timeout)
    assert tracker.allow_request()


def test_three_trial_successes_in_a_row_close_the_circuit(tracker: HealthTracker) -> None:
    open_then_probe(tracker)
    for _ in range(3):
        tracker.allow_request()
        tracker.record_success(0.01)
    assert tracker.state is HealthState.HEALTHY


def test_two_trial_successes_do_not(tracker: HealthTracker) -> None:
    open_then_probe(tracker)
    for _ in range(2):
        tracker.allow_request()
        tracker.record_success(0.01)
    assert tracker.state is HealthState.PROBING


def test_a_trial_failure_opens_the_circuit_again_and_counts_the_reopening(tracker: HealthTracker) -> None:
    open_then_probe(tracker)
    tracker.allow_request()
    tracker.record_failure(server_error())
    assert tracker.state is HealthState.DOWN
    assert tracker.record.opened == 2


def test_closing_forgets_the_failures_before_the_outage(tracker: HealthTracker) -> None:
    tracker.record_failure(unavailable())
    tracker.record_failure(unavailable())
    tracker.record_failure(unavailable(Reason.REFUSED))
    tracker.probe_succeeded(0.01)
    for _ in range(3):
        tracker.record_success(0.01)
    tracker.record_failure(unavailable())
    assert tracker.state is HealthState.HEALTHY
    assert tracker.record.opened == 0


def test_open_circuit_marks_the_endpoint_down_with_the_reason(tracker: HealthTracker) -> None:
    tracker.open_circuit("operator says so")
    assert (tracker.state, tracker.record.reason) == (HealthState.DOWN, "operator says so")


def test_each_state_change_is_told_once_with_its_reason(clock: ManualClock) -> None:
    events = HealthEvents()
    heard: list[tuple[str, HealthState, HealthState, str]] = []
    events.on_state_change.append(lambda *change: heard.append(change))
    tracker = HealthTracker("gcp:gcs:orders", clock=clock, events=events)
    tracker.record_failure(unavailable(Reason.DNS))
    tracker.record_failure(unavailable(Reason.DNS))
    assert heard == [("gcp:gcs:orders", HealthState.HEALTHY, HealthState.DOWN, "dns")]


def test_each_state_change_is_logged_once(tracker: HealthTracker, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="failover.health"):
        tracker.record_failure(unavailable(Reason.REFUSED))
        tracker.record_failure(unavailable(Reason.REFUSED))
    assert [record.getMessage() for record in caplog.records] == ["aws:s3:orders: healthy -> down (refused)"]


def test_the_happy_path_logs_nothing(tracker: HealthTracker, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="failover"):
        for _ in range(50):
            tracker.allow_request()
            tracker.record_success(0.01)
    assert caplog.records == []


def test_the_state_lives_in_the_store_shared_by_trackers_of_one_endpoint(clock: ManualClock) -> None:
    store = InMemoryHealthStore()
    here = HealthTracker("azure:blob:orders", clock=clock, store=store)
    there = HealthTracker("azure:blob:orders", clock=clock, store=store)
    here.record_failure(unavailable(Reason.DNS))
    assert not there.allow_request()


def test_successes_feed_the_latency_ewma_and_p95(tracker: HealthTracker) -> None:
    for latency in [0.01] * 95 + [0.5] * 5:
        tracker.record_success(latency)
    assert tracker.p95 == pytest.approx(0.01)
    assert tracker.ewma is not None
    assert 0.01 < tracker.ewma < 0.5


def test_the_sample_hook_runs_every_sixteen_successes(tracker: HealthTracker) -> None:
    runs: list[int] = []
    tracker.sample_hook = lambda: runs.append(1)
    for _ in range(40):
        tracker.record_success(0.01)
    assert len(runs) == 2


def test_the_sample_hook_of_a_degraded_endpoint_runs_at_the_first_success_a_second_after_its_last_run(
    tracker: HealthTracker, clock: ManualClock
) -> None:
    runs: list[int] = []
    tracker.sample_hook = lambda: runs.append(1)
    tracker.set_degraded(True, "slow")
    tracker.record_success(0.01)
    clock.advance(tracker.sample_interval)
    tracker.record_success(0.01)
    tracker.record_success(0.01)
    assert len(runs) == 1


def test_counters_count_calls_successes_and_failures(tracker: HealthTracker) -> None:
    tracker.record_success(0.01)
    tracker.record_failure(server_error())
    tracker.record_failure(NotFound("x"))
    counters = tracker.counters()
    assert (counters.calls, counters.successes, counters.failures) == (3, 1, 1)


@pytest.mark.parametrize(
    "settings", [{"consecutive_failures": 0}, {"failure_ratio": 0.0}, {"window": 0.0}, {"trial_calls": 0}]
)
def test_nonsense_health_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        HealthPolicy(**settings)  # type: ignore[arg-type]

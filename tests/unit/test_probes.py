"""Active probes of DOWN endpoints, with backoff, driven by tick() on a manual clock."""

from __future__ import annotations

import threading

import pytest

from failover.clock import ManualClock, SystemClock
from failover.errors import ConfigError, NotFound, ProviderUnavailable, Reason
from failover.health.probes import ProbeBackoff, Prober
from failover.health.store import HealthState
from failover.health.tracker import HealthTracker

BACKOFF = ProbeBackoff(base=1.0, cap=8.0, jitter=0.0)


class Probe:
    """A probe that fails while ``down`` and records the timeouts it was given."""

    def __init__(self, down: bool = True, error: Exception | None = None) -> None:
        self.down = down
        self.error = error or ProviderUnavailable("dns", reason=Reason.DNS)
        self.timeouts: list[float] = []

    def __call__(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        if self.down:
            raise self.error


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def tracker(clock: ManualClock) -> HealthTracker:
    return HealthTracker("aws:s3:orders", clock=clock)


def knock_down(tracker: HealthTracker) -> None:
    tracker.record_failure(ProviderUnavailable("dns", reason=Reason.DNS))


def test_a_healthy_endpoint_is_not_probed(tracker: HealthTracker) -> None:
    probe = Probe()
    assert Prober(tracker, probe, backoff=BACKOFF).tick() is None
    assert probe.timeouts == []


def test_the_first_probe_waits_the_cool_off(tracker: HealthTracker, clock: ManualClock) -> None:
    probe = Probe()
    prober = Prober(tracker, probe, backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(0.4)
    assert prober.tick() == pytest.approx(0.6)
    assert probe.timeouts == []


def test_a_due_probe_is_sent_with_its_timeout(tracker: HealthTracker, clock: ManualClock) -> None:
    probe = Probe()
    prober = Prober(tracker, probe, backoff=BACKOFF, timeout=0.5)
    knock_down(tracker)
    clock.advance(1.0)
    prober.tick()
    assert probe.timeouts == [0.5]


def test_a_probe_that_answers_moves_the_endpoint_to_probing(tracker: HealthTracker, clock: ManualClock) -> None:
    prober = Prober(tracker, Probe(down=False), backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(1.0)
    assert prober.tick() is None
    assert tracker.state is HealthState.PROBING


def test_a_probe_answered_with_not_found_counts_as_an_answer(tracker: HealthTracker, clock: ManualClock) -> None:
    prober = Prober(tracker, Probe(error=NotFound("no canary")), backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(1.0)
    prober.tick()
    assert tracker.state is HealthState.PROBING


def test_a_probe_that_raises_a_bug_counts_as_a_failure(tracker: HealthTracker, clock: ManualClock) -> None:
    prober = Prober(tracker, Probe(error=TypeError("bug")), backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(1.0)
    prober.tick()
    assert tracker.state is HealthState.DOWN


def test_failed_probes_back_off_exponentially_up_to_the_cap(tracker: HealthTracker, clock: ManualClock) -> None:
    prober = Prober(tracker, Probe(), backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(1.0)
    waits = []
    for _ in range(5):
        wait = prober.tick()
        assert wait is not None
        waits.append(wait)
        clock.advance(wait)
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]
    assert tracker.counters().probe_failures == 5


def test_no_probe_is_sent_before_it_is_due(tracker: HealthTracker, clock: ManualClock) -> None:
    probe = Probe()
    prober = Prober(tracker, probe, backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(1.0)
    prober.tick()
    clock.advance(1.0)
    prober.tick()
    assert len(probe.timeouts) == 1


def test_after_a_failed_trial_the_first_probe_waits_longer(tracker: HealthTracker, clock: ManualClock) -> None:
    prober = Prober(tracker, Probe(down=False), backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(1.0)
    prober.tick()
    tracker.allow_request()
    tracker.record_failure(ProviderUnavailable("503", reason=Reason.SERVER_ERROR))
    assert prober.tick() == pytest.approx(2.0)


def test_jitter_shortens_a_wait_by_at_most_its_fraction() -> None:
    backoff = ProbeBackoff(base=1.0, cap=8.0, jitter=0.2)
    assert backoff.delay(2, 0.0) == 4.0
    assert backoff.delay(2, 0.999) == pytest.approx(3.2, abs=0.01)


def test_the_jitter_comes_from_the_injected_random(tracker: HealthTracker, clock: ManualClock) -> None:
    prober = Prober(tracker, Probe(), backoff=ProbeBackoff(base=1.0, jitter=0.5), random=lambda: 1.0)
    knock_down(tracker)
    assert prober.tick() == pytest.approx(0.5)


def test_probes_are_counted_apart_from_calls(tracker: HealthTracker, clock: ManualClock) -> None:
    prober = Prober(tracker, Probe(), backoff=BACKOFF)
    knock_down(tracker)
    clock.advance(1.0)
    prober.tick()
    counters = tracker.counters()
    assert (counters.probes, counters.calls) == (1, 1)


def test_the_background_thread_probes_a_down_endpoint_until_it_answers() -> None:
    tracker = HealthTracker("aws:s3:orders", clock=SystemClock())
    probing = threading.Event()
    tracker.events.on_state_change.append(
        lambda endpoint, old, new, reason: probing.set() if new is HealthState.PROBING else None
    )
    prober = Prober(tracker, Probe(down=False), backoff=ProbeBackoff(base=0.001, cap=0.001))
    prober.start()
    try:
        knock_down(tracker)
        assert probing.wait(timeout=10.0), "the prober thread never moved the endpoint to PROBING"
    finally:
        prober.stop(timeout=10.0)
    assert tracker.state is HealthState.PROBING


def test_stop_without_start_is_harmless(tracker: HealthTracker) -> None:
    Prober(tracker, Probe()).stop()


@pytest.mark.parametrize("settings", [{"base": 0.0}, {"base": 2.0, "cap": 1.0}, {"jitter": 1.0}])
def test_nonsense_backoff_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ProbeBackoff(**settings)

"""The engine's call loop: failover by disposition, deadlines, the breaker, probes, background health."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.engine import Engine, EngineSettings
from failover.errors import (
    AccessDenied,
    AllProvidersFailed,
    FailoverError,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    ProviderUnavailable,
    Reason,
)
from failover.health import HealthPolicy, HealthState, ProbeBackoff
from failover.interfaces import ObjectInfo, ObjectStore
from failover.routing import HedgePolicy
from failover.testing.faulty import (
    FaultyStore,
    denied,
    forbidden,
    no_bucket,
    refused,
    server_error,
    throttled,
    timed_out,
    unresolvable,
)

SETTINGS = EngineSettings(start_probers=False, retry_base=0.0, probe_backoff=ProbeBackoff(base=1.0, jitter=0.0))


def head_k(store: ObjectStore, timeout: float) -> ObjectInfo:
    return store.head("k", timeout=timeout)


def probe(store: ObjectStore, timeout: float) -> object:
    return store.head("failover-probe/canary", timeout=timeout)


class Group:
    """Three faulty memory stores behind one engine on a manual clock."""

    def __init__(self, settings: EngineSettings = SETTINGS, latency: float = 0.0) -> None:
        self.clock = ManualClock()
        self.stores = [
            FaultyStore(MemoryStore(name), clock=self.clock, latency=latency) for name in ("aws", "gcp", "azure")
        ]
        for store in self.stores:
            store.inner.put("k", f"from {store.name}".encode())
        self.engine: Engine[ObjectStore] = Engine(
            self.stores, name_of=lambda store: store.name, probe=probe, settings=settings, clock=self.clock
        )
        self.failovers: list[tuple[str, str | None, str]] = []
        self.engine.health.events.on_failover.append(
            lambda source, target, operation, error: self.failovers.append((source, target, operation))
        )

    @property
    def aws(self) -> FaultyStore:
        return self.stores[0]

    @property
    def gcp(self) -> FaultyStore:
        return self.stores[1]

    def state(self, name: str) -> HealthState:
        return self.engine.health[name].state


@pytest.fixture
def group() -> Iterator[Group]:
    made = Group()
    yield made
    made.engine.close()


def test_happy_path_calls_the_first_endpoint_once(group: Group) -> None:
    outcome = group.engine.call("head", head_k)
    assert (outcome.endpoint, outcome.failures) == ("aws", ())
    assert (group.aws.total_calls, group.gcp.total_calls) == (1, 0)


@pytest.mark.parametrize(
    "error",
    [refused(), unresolvable(), denied(), timed_out(), ProviderUnavailable("connect timeout")],
    ids=["refused", "dns", "denied", "outcome-unknown", "connect-timeout"],
)
def test_failover_error_moves_to_the_next_endpoint_without_retry(group: Group, error: FailoverError) -> None:
    group.aws.fail(error)
    outcome = group.engine.call("head", head_k)
    assert outcome.endpoint == "gcp"
    assert [name for name, _ in outcome.failures] == ["aws"]
    assert group.aws.calls["head"] == 1, "a FAILOVER error was retried on the same provider"
    assert group.failovers == [("aws", "gcp", "head")]


@pytest.mark.parametrize("error", [server_error(), throttled()], ids=["503", "429"])
def test_retry_error_is_retried_once_on_the_same_endpoint_then_fails_over(group: Group, error: FailoverError) -> None:
    group.aws.fail(error)
    outcome = group.engine.call("head", head_k)
    assert outcome.endpoint == "gcp"
    assert group.aws.calls["head"] == 2, "max_attempts=2 means one retry on the same provider"


def test_retry_error_that_clears_is_answered_by_the_same_endpoint(group: Group) -> None:
    group.aws.fail(server_error(), "head", times=1)
    assert group.engine.call("head", head_k).endpoint == "aws"
    assert group.aws.calls["head"] == 2


@pytest.mark.parametrize(
    "error",
    [
        NotFound("no such key"),
        PreconditionFailed("etag differs"),
        InvalidRequest("bad key", rule="key.empty"),
    ],
    ids=["not-found", "precondition", "invalid"],
)
def test_fatal_error_is_the_answer_and_no_other_endpoint_is_called(group: Group, error: FailoverError) -> None:
    group.aws.fail(error)
    with pytest.raises(type(error)):
        group.engine.call("head", head_k)
    assert group.aws.calls["head"] == 1
    assert group.gcp.total_calls == 0, "a FATAL answer was failed over"
    assert group.state("aws") is HealthState.HEALTHY, "a FATAL answer counted against the provider's health"


def test_every_endpoint_failing_raises_all_providers_failed_listing_each_in_call_order(group: Group) -> None:
    group.aws.fail(refused())
    group.gcp.fail(denied())
    group.stores[2].fail(timed_out())
    with pytest.raises(AllProvidersFailed) as caught:
        group.engine.call("head", head_k)
    errors = caught.value.errors
    assert [type(error).__name__ for error in errors] == ["ProviderUnavailable", "AccessDenied", "OutcomeUnknown"]
    assert [error.provider for error in errors] == ["memory"] * 3
    assert "aws" in str(caught.value) or "memory" in str(caught.value)


def test_no_failover_starts_when_the_deadline_has_no_time_left() -> None:
    group = Group(latency=0.98)  # each call costs 0.98 s of the manual clock
    group.aws.fail(refused())
    with pytest.raises(AllProvidersFailed) as caught:
        group.engine.call("head", head_k, timeout=1.0)
    assert group.aws.calls["head"] == 1
    assert group.gcp.total_calls == 0, "a failover was started with 0.02 s left (the floor is 0.05 s)"
    assert any("no time left" in str(error) for error in caught.value.errors), caught.value
    group.engine.close()


def test_each_attempt_gets_at_most_the_time_left() -> None:
    group = Group(settings=EngineSettings(start_probers=False, attempt_timeout=5.0))
    timeouts: list[float] = []

    def record(store: ObjectStore, timeout: float) -> None:
        timeouts.append(timeout)
        group.clock.advance(0.5)
        raise ProviderUnavailable("refused", reason=Reason.REFUSED)

    with pytest.raises(AllProvidersFailed):
        group.engine.call("head", record, timeout=1.2)
    assert timeouts == pytest.approx([1.2, 0.7, 0.2])
    group.engine.close()


def test_three_failed_retryable_attempts_in_a_row_open_the_circuit(group: Group) -> None:
    group.aws.fail(server_error())
    group.engine.call("head", head_k)  # two attempts on aws
    group.engine.call("head", head_k)  # the third opens the circuit: no retry after it
    assert group.state("aws") is HealthState.DOWN
    assert group.aws.calls["head"] == 3
    group.engine.call("head", head_k)
    assert group.aws.calls["head"] == 3, "a DOWN endpoint was called"


def test_retryable_failures_do_not_trip_the_breaker_when_switched_off() -> None:
    group = Group(settings=EngineSettings(start_probers=False, retry_errors_trip=False))
    group.aws.fail(server_error())
    for _ in range(3):
        group.engine.call("head", head_k)
    assert group.state("aws") is HealthState.HEALTHY
    group.engine.close()


def test_refused_opens_at_once_and_the_open_circuit_is_named_in_the_error(group: Group) -> None:
    group.aws.fail(refused())
    group.engine.call("head", head_k)
    assert group.state("aws") is HealthState.DOWN
    group.gcp.fail(refused())
    group.stores[2].fail(refused())
    with pytest.raises(AllProvidersFailed) as caught:
        group.engine.call("head", head_k)
    assert group.aws.calls["head"] == 1
    assert any("aws was not called: its circuit is open" in str(error) for error in caught.value.errors)


def test_probe_then_trial_calls_close_the_circuit(group: Group) -> None:
    group.aws.fail(refused())
    group.engine.call("head", head_k)
    group.engine.probe_now()
    assert group.state("aws") is HealthState.DOWN, "probed before the cool-off"
    group.clock.advance(1.0)
    group.engine.probe_now()
    assert group.state("aws") is HealthState.DOWN, "a failed probe moved the endpoint"
    group.aws.heal()
    group.clock.advance(2.0)
    group.engine.probe_now()
    assert group.state("aws") is HealthState.PROBING
    assert group.aws.calls["head"] == 3, "one call and two probes"
    for _ in range(3):
        assert group.engine.call("head", head_k).endpoint == "aws"
    assert group.state("aws") is HealthState.HEALTHY
    counters = group.engine.health["aws"].counters()
    assert (counters.probes, counters.probe_failures, counters.trial_calls) == (2, 1, 3)


def test_only_and_skip_choose_the_endpoints(group: Group) -> None:
    assert group.engine.call("head", head_k, skip=frozenset({"aws"})).endpoint == "gcp"
    assert group.engine.call("head", head_k, only=("azure",)).endpoint == "azure"
    assert group.engine.call_on("gcp", "head", head_k).key == "k"
    assert group.aws.total_calls == 0


def test_background_availability_pauses_after_a_failure_until_a_success(group: Group) -> None:
    group.aws.fail(server_error(), times=1)
    group.engine.call("head", head_k)  # the retry succeeds
    assert group.engine.is_available("aws", background=True), "a success did not end the pause"
    group.aws.fail(timed_out(), times=1)
    group.engine.call("head", head_k)
    assert group.engine.is_available("aws"), "one failure made the endpoint unavailable to callers"
    assert not group.engine.is_available("aws", background=True), "background work went on right after a failure"
    group.clock.advance(SETTINGS.background_pause)
    assert group.engine.is_available("aws", background=True), "the pause did not end"


def test_background_availability_returns_when_a_probe_answers(group: Group) -> None:
    group.aws.fail(refused())
    group.engine.call("head", head_k)
    assert not group.engine.is_available("aws", background=True)
    group.aws.heal()
    group.clock.advance(1.0)
    group.engine.probe_now()
    assert group.engine.is_available("aws", background=True), "PROBING should let replication resume"


def test_recorded_background_calls_feed_latency_and_the_breaker(group: Group) -> None:
    for _ in range(5):
        group.engine.record("gcp", 0.02)
    assert group.engine.health["gcp"].ewma == pytest.approx(0.02)
    for _ in range(3):
        group.engine.record("gcp", 0.0, server_error())
    assert group.state("gcp") is HealthState.DOWN


def test_hedged_without_a_policy_is_a_plain_call_and_honours_skip(group: Group) -> None:
    outcome = group.engine.hedged("head", head_k, skip=frozenset({"aws"}))
    assert outcome.endpoint == "gcp"
    assert group.aws.total_calls == 0


def test_hedged_with_a_policy_skips_and_fails_over() -> None:
    group = Group(settings=EngineSettings(start_probers=False, hedge=HedgePolicy(delay=1.0)))
    group.gcp.fail(refused())
    outcome = group.engine.hedged("head", head_k, skip=frozenset({"aws"}))
    assert outcome.endpoint == "azure"
    assert outcome.value.key == "k"
    assert group.aws.total_calls == 0
    with pytest.raises(AllProvidersFailed):
        group.engine.hedged("head", head_k, only=("gcp",))
    group.engine.close()


def test_health_policy_threshold_comes_from_the_settings() -> None:
    group = Group(settings=EngineSettings(start_probers=False, health=HealthPolicy(consecutive_failures=1)))
    group.aws.fail(timed_out())
    group.engine.call("head", head_k)
    assert group.state("aws") is HealthState.DOWN
    group.engine.close()


def test_hedged_read_takes_trial_slots_only_on_the_endpoints_it_calls() -> None:
    group = Group(
        settings=EngineSettings(
            start_probers=False, hedge=HedgePolicy(delay=5.0), probe_backoff=ProbeBackoff(base=1.0, jitter=0.0)
        )
    )
    group.gcp.fail(refused())
    group.engine.call("head", head_k, skip=frozenset({"aws"}))  # gcp DOWN
    group.gcp.heal()
    group.clock.advance(1.0)
    group.engine.probe_now()
    assert group.state("gcp") is HealthState.PROBING
    assert group.engine.hedged("head", head_k).endpoint == "aws"  # answered before the hedge delay
    assert group.engine.health["gcp"].counters().trial_calls == 0, "a hedge that was never sent took a trial slot"
    group.engine.close()


def _slow_head(clock: ManualClock, seconds: float) -> Callable[[ObjectStore, float], ObjectInfo]:
    def head(store: ObjectStore, timeout: float) -> ObjectInfo:
        clock.advance(seconds)  # a call that took this long: a long poll's wait, or a slow provider
        return store.head("k", timeout=timeout)

    return head


@pytest.mark.parametrize(("timed", "expected"), [(False, HealthState.HEALTHY), (True, HealthState.DEGRADED)])
def test_untimed_calls_stay_out_of_the_latency_that_demotes_an_endpoint(timed: bool, expected: HealthState) -> None:
    group = Group()
    states: list[HealthState] = []
    group.engine.health.events.on_state_change.append(lambda name, old, new, reason: states.append(new))
    try:
        for _ in range(40):  # peers answer at once: each needs its samples before the comparison
            group.engine.call_on("gcp", "head", head_k)
            group.engine.call_on("azure", "head", head_k)
        for _ in range(40):
            group.engine.call_on("aws", "receive", _slow_head(group.clock, 5.0), timed=timed)
        # (Each slow call takes 5 s of the manual clock: a demoted endpoint's 30 s hold may end too.)
        assert (states or [HealthState.HEALTHY])[0] is expected
    finally:
        group.engine.close()


# Refusals of one request by policy (DESIGN section 4) and missing buckets.


def test_a_refusal_asks_the_next_endpoint_and_leaves_the_circuit_closed(group: Group) -> None:
    group.aws.fail(forbidden())
    for _ in range(5):
        assert group.engine.call("head", head_k).endpoint == "gcp"
    assert group.aws.calls["head"] == 5, "a refused request was retried, or the endpoint was left out"
    assert group.state("aws") is HealthState.HEALTHY, "refusals of one request opened the circuit"
    assert group.engine.is_available("aws", background=True), "a refusal paused background work"


def test_every_endpoint_refusing_answers_access_denied(group: Group) -> None:
    for store in group.stores:
        store.fail(forbidden())
    with pytest.raises(AccessDenied) as caught:
        group.engine.call("head", head_k)
    assert caught.value.reason is Reason.FORBIDDEN
    assert [store.calls["head"] for store in group.stores] == [1, 1, 1]


def test_a_refusal_then_not_found_answers_not_found(group: Group) -> None:
    group.aws.fail(forbidden())
    group.gcp.fail(NotFound("no such key"))
    with pytest.raises(NotFound):
        group.engine.call("head", head_k)


def test_hedged_reads_refused_everywhere_answer_access_denied() -> None:
    group = Group(settings=EngineSettings(start_probers=False, hedge=HedgePolicy(delay=0.001)))
    for store in group.stores:
        store.fail(forbidden())
    with pytest.raises(AccessDenied):
        group.engine.hedged("head", head_k)
    group.engine.close()


def test_a_missing_bucket_opens_the_circuit_at_once_and_says_so(group: Group) -> None:
    group.aws.fail(no_bucket())
    assert group.engine.call("head", head_k).endpoint == "gcp"
    assert group.state("aws") is HealthState.DOWN
    assert "NoSuchBucket" in group.engine.health["aws"].record.reason


def test_a_probe_refused_by_policy_proves_the_endpoint_up(group: Group) -> None:
    group.aws.fail(refused())
    group.engine.call("head", head_k)
    group.aws.heal()
    group.aws.fail(forbidden())  # a least-privilege role may not read the canary
    group.clock.advance(1.0)
    group.engine.probe_now()
    assert group.state("aws") is HealthState.PROBING


# Every endpoint DOWN after a blip: the call asks the one that opened least recently, once.


def _blip(group: Group) -> None:
    """Every endpoint refuses once (opening each circuit, aws first), then all heal."""
    for store in group.stores:
        store.fail(refused())
    with pytest.raises(AllProvidersFailed):
        group.engine.call("head", head_k)
    for store in group.stores:
        store.heal()
    assert {group.state(store.name) for store in group.stores} == {HealthState.DOWN}


def test_with_every_circuit_open_a_call_tries_the_one_opened_least_recently(group: Group) -> None:
    _blip(group)
    group.clock.advance(0.1)  # well before a probe is due (1 s)
    outcome = group.engine.call("head", head_k)
    assert outcome.endpoint == "aws", "the last resort was not the endpoint whose circuit opened first"
    assert [store.calls["head"] for store in group.stores] == [2, 1, 1], "more than one last-resort attempt"
    assert group.state("aws") is HealthState.PROBING, "a last-resort answer did not half-open the circuit"


def test_a_failed_last_resort_is_tried_once_and_the_call_fails(group: Group) -> None:
    for store in group.stores:
        store.fail(refused())
    with pytest.raises(AllProvidersFailed):
        group.engine.call("head", head_k)
    with pytest.raises(AllProvidersFailed):
        group.engine.call("head", head_k)
    assert [store.calls["head"] for store in group.stores] == [2, 1, 1]
    assert group.state("aws") is HealthState.DOWN


def test_hedged_reads_with_every_circuit_open_try_a_last_resort() -> None:
    group = Group(settings=EngineSettings(start_probers=False, hedge=HedgePolicy(delay=0.001)))
    _blip(group)
    assert group.engine.hedged("head", head_k).endpoint == "aws"
    group.engine.close()


def test_a_call_restricted_to_down_endpoints_tries_one_of_them(group: Group) -> None:
    group.aws.fail(refused())
    group.engine.call("head", head_k)
    group.aws.heal()
    # The read of a key whose newest version only aws holds (the others skipped as stale).
    outcome = group.engine.call("head", head_k, only=("aws",))
    assert outcome.endpoint == "aws"

"""`failover.telemetry.instrument` on memory stores and queues, read back with the SDK's in-memory readers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.trace import StatusCode

from failover.engine import EngineSettings
from failover.errors import NotFound, OutcomeUnknown
from failover.observe import NO_OBSERVER
from failover.routing import HedgePolicy
from failover.storage import FailoverStorage
from failover.telemetry import instrument
from failover.testing.faulty import server_error
from tests.unit.queue_rig import Rig as QueueRig
from tests.unit.queue_rig import bodies
from tests.unit.storage_rig import Rig
from tests.unit.telemetry_support import Collected, GatedStore, events


@pytest.fixture
def collected() -> Iterator[Collected]:
    found = Collected()
    yield found
    found.shutdown()


@pytest.fixture
def two(collected: Collected) -> Iterator[Rig]:
    rig = Rig()
    instrument(rig.storage, **collected.providers)
    yield rig
    rig.storage.close()


def test_each_attempt_is_counted_and_timed_by_endpoint_operation_and_outcome(two: Rig, collected: Collected) -> None:
    two.storage.put("k", b"v")
    two.storage.get_bytes("k")
    with pytest.raises(NotFound):
        two.storage.head("missing")
    assert collected.value("failover.attempt.duration", endpoint="aws", operation="put", outcome="ok") == 1
    assert collected.value("failover.attempt.duration", endpoint="aws", operation="get", outcome="ok") == 1
    assert (
        collected.value(
            "failover.attempt.duration", endpoint="aws", operation="head", outcome="error", error_type="NotFound"
        )
        == 1
    )
    assert collected.value("failover.call.duration", operation="put", outcome="ok", endpoint="aws") == 1


def test_a_refused_store_shows_as_a_failover_a_failed_request_and_an_open_circuit(
    two: Rig, collected: Collected
) -> None:
    two.aws.fail()
    two.storage.put("k", b"v")
    assert collected.value("failover.failovers", **{"from": "aws", "to": "gcp", "operation": "put"}) == 1
    assert (
        collected.value("failover.attempt.duration", endpoint="aws", outcome="error", error_type="ProviderUnavailable")
        == 1
    )
    assert collected.value("failover.attempt.duration", endpoint="gcp", outcome="ok") == 1
    assert collected.value("failover.circuit.state", endpoint="aws", state="down") == 1
    assert collected.value("failover.circuit.state", endpoint="aws", state="healthy") == 0
    assert collected.value("failover.circuit.state", endpoint="gcp", state="healthy") == 1


def test_a_call_is_one_span_with_its_attempts_and_failover_as_events(two: Rig, collected: Collected) -> None:
    two.aws.fail()
    two.storage.put("k", b"v")
    (span,) = [span for span in collected.finished() if span.name == "failover put"]
    assert span.attributes is not None
    assert span.attributes["failover.endpoint"] == "gcp"
    assert [attempt["failover.endpoint"] for attempt in events(span, "attempt")] == ["aws", "gcp"]
    (failover,) = events(span, "failover")
    assert (failover["failover.from"], failover["failover.to"]) == ("aws", "gcp")
    assert span.status.status_code is StatusCode.UNSET


def test_a_call_that_raised_ends_its_span_with_error_status(two: Rig, collected: Collected) -> None:
    with pytest.raises(NotFound):
        two.storage.get_bytes("missing")
    (span,) = [span for span in collected.finished() if span.name == "failover get"]
    assert span.status.status_code is StatusCode.ERROR
    assert collected.value("failover.call.duration", operation="get", outcome="error", error_type="NotFound") == 1


def test_a_retry_on_the_same_store_is_counted_as_retry_budget_spent(two: Rig, collected: Collected) -> None:
    two.aws.fail(server_error(), "put", times=1)
    two.storage.put("k", b"v")
    assert collected.value("failover.retries", endpoint="aws") == 1
    assert collected.value("failover.attempt.duration", endpoint="aws", operation="put") == 2
    assert collected.value("failover.failovers") == 0


def test_journal_backlog_and_replication_lag_are_reported_per_store(two: Rig, collected: Collected) -> None:
    two.storage.put("a", b"1")
    two.storage.put("b", b"2")
    assert collected.value("failover.journal.backlog", store="gcp") == 2
    two.storage.drain()
    assert collected.value("failover.journal.backlog", store="gcp") == 0
    assert collected.value("failover.replication.lag", store="gcp") == 2


def test_copies_the_dedup_window_dropped_are_counted(collected: Collected, tmp_path: Path) -> None:
    rig = QueueRig(options={"dedup": tmp_path / "dedup.sqlite"})
    instrument(rig.queue, **collected.providers)
    try:
        # An ambiguous send: the primary took the message but the answer was lost, so it went again.
        rig.primary.fail(OutcomeUnknown("the answer was lost"), "send", times=1, after=True)
        rig.queue.send(b"once", dedup_id="order-1")
        assert bodies(rig.queue.receive(10)) == [b"once"]
        assert collected.value("failover.queue.deduplicated") == 1
        assert collected.value("failover.attempt.duration", operation="send", endpoint="secondary", outcome="ok") == 1
    finally:
        rig.close()


def test_a_hedge_sent_and_won_is_counted() -> None:
    collected = Collected()
    slow, fast = GatedStore("slow"), GatedStore("fast")
    slow.gate.set()
    fast.gate.set()
    settings = EngineSettings(start_probers=False, hedge=HedgePolicy(delay=0.01, budget_ratio=1.0))
    storage = FailoverStorage([slow, fast], settings=settings, replicate=False)
    try:
        storage.put("k", b"hedged")
        storage.drain()
        instrument(storage, **collected.providers)
        slow.gate.clear()
        assert storage.get_bytes("k") == b"hedged"
        assert collected.value("failover.hedges", endpoint="fast") == 1
        assert collected.value("failover.hedges.won", endpoint="fast") == 1
    finally:
        slow.gate.set()
        storage.close()
        collected.shutdown()


def test_close_puts_the_engine_back_on_its_plain_path(collected: Collected) -> None:
    rig = Rig()
    instrumentation = instrument(rig.storage, **collected.providers)
    instrumentation.close()
    try:
        rig.storage.put("k", b"v")
        assert rig.storage.engine.observer is NO_OBSERVER
        assert collected.value("failover.attempt.duration") == 0
        assert collected.finished() == ()
    finally:
        rig.storage.close()


def test_two_groups_on_one_meter_provider_each_report_their_circuits(collected: Collected) -> None:
    first, second = Rig(("aws", "gcp")), Rig(("azure", "gcp"))
    instrument(first.storage, **collected.providers)
    instrument(second.storage, **collected.providers)
    try:
        assert collected.value("failover.circuit.state", endpoint="aws", state="healthy") == 1
        assert collected.value("failover.circuit.state", endpoint="azure", state="healthy") == 1
    finally:
        first.storage.close()
        second.storage.close()


def test_a_closed_storage_is_no_longer_observed_and_its_callbacks_do_not_fail(
    collected: Collected, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig()
    instrument(rig.storage, **collected.providers)
    rig.storage.put("k", b"v")
    rig.storage.close()
    assert collected.value("failover.journal.backlog") == 0
    assert collected.value("failover.circuit.state") == 0
    failed = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert not failed, f"a callback failed on the closed storage: {failed}"

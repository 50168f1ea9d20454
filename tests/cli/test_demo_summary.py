"""The demo's verdict, without clouds: when it says OK, what it measures, and what the final check finds.

The run itself is `tests/cli/test_demo.py`; these pin the rules that turn its numbers into an exit
code, on a `Recorder` driven by a hand-set clock and on memory stores.
"""

from __future__ import annotations

import hashlib

import pytest

from failover.adapters.memory import MemoryStore
from failover.cli.demo.metrics import Recorder, Role
from failover.cli.demo.summary import Messages, Summary, Verification, verify_objects
from failover.cli.demo.workload import Acked
from failover.health import HealthState

NO_LOSS = Messages(sent=10, received=10, duplicates_dropped=0, delivered_twice=0, lost=0, acks_retried=0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _summary(recorder: Recorder, *, messages: Messages = NO_LOSS, verification: Verification | None = None) -> Summary:
    return Summary(
        recorder,
        ran=10.0,
        cut_at=2.5,
        restore_at=5.0,
        aws=["s3"],
        drain_store="s3",
        messages=messages,
        verification=verification or Verification(objects=2, stores=["S3", "GCS"], verified=4),
    )


def _recorder(clock: Clock | None = None) -> Recorder:
    recorder = Recorder(clock or Clock())
    recorder.add_endpoint("s3", "S3", "storage")
    return recorder


def test_a_run_without_failure_loss_or_missing_copy_is_ok() -> None:
    summary = _summary(_recorder())

    assert summary.ok
    assert summary.lines()[-1].endswith("OK")


def test_one_failed_operation_makes_the_run_fail() -> None:
    recorder = _recorder()
    recorder.operation_failed("put", "demo/writer-1/00001: AllProvidersFailed: put failed on every provider")

    summary = _summary(recorder)

    assert not summary.ok
    assert "failed:          1" in summary.lines()


def test_one_copy_missing_on_one_store_makes_the_run_fail() -> None:
    verification = Verification(objects=2, stores=["S3", "GCS"], verified=3, problems=["k is missing on GCS"])

    assert not _summary(_recorder(), verification=verification).ok


def test_one_lost_message_makes_the_run_fail() -> None:
    lost = Messages(sent=10, received=9, duplicates_dropped=0, delivered_twice=0, lost=1, acks_retried=0)

    assert not _summary(_recorder(), messages=lost).ok


def test_time_to_detect_runs_from_the_first_failed_call_after_the_cut_to_down() -> None:
    clock = Clock()
    recorder = _recorder(clock)
    clock.now = 1.0
    recorder.call("s3", Role.APP, ok=False)  # before the cut: not this outage's
    clock.now = 3.0
    recorder.call("s3", Role.APP, ok=False)
    clock.now = 3.0125
    recorder.state_change("s3", HealthState.HEALTHY, HealthState.DOWN, "dns")

    assert _summary(recorder).detect_ms("s3") == pytest.approx(12.5)


def test_time_to_drain_runs_from_the_restore_to_the_first_empty_backlog_after_it() -> None:
    clock = Clock()
    recorder = _recorder(clock)
    for at, pending in ((1.0, 0), (4.0, 30), (5.5, 40), (6.0, 12), (7.25, 0), (8.0, 3)):
        clock.now = at
        recorder.sample_backlog({"s3": pending} if pending else {})

    assert _summary(recorder).drain() == (40, 2.25)


def test_ops_per_second_counts_the_last_whole_second_of_application_calls_only() -> None:
    clock = Clock()
    recorder = _recorder(clock)
    clock.now = 0.5
    for _ in range(6):
        recorder.call("s3", Role.APP, ok=True)
    recorder.call("s3", Role.REPLICATION, ok=True)
    recorder.call("s3", Role.APP, ok=False)
    clock.now = 1.3

    assert recorder.rate("s3") == 6.0
    assert recorder.rate("s3", Role.REPLICATION) == 1.0


def _put(store: MemoryStore, key: str, data: bytes, version: str) -> Acked:
    store.put(key, data, metadata={"failover_version": version})
    return Acked(version, hashlib.sha256(data).hexdigest())


def test_verification_reads_every_object_from_every_store() -> None:
    s3, gcs = MemoryStore("s3"), MemoryStore("gcs")
    acked = {"a": _put(s3, "a", b"one", "v1"), "b": _put(s3, "b", b"two", "v2")}
    _put(gcs, "a", b"one", "v1")
    _put(gcs, "b", b"two", "v2")

    result = verify_objects({"S3": s3, "GCS": gcs}, acked)

    assert (result.verified, result.copies, result.problems) == (4, 4, [])
    assert result.complete


def test_verification_reports_a_missing_copy_and_an_older_version() -> None:
    s3, gcs = MemoryStore("s3"), MemoryStore("gcs")
    acked = {"a": _put(s3, "a", b"new", "v2"), "b": _put(s3, "b", b"two", "v1")}
    _put(gcs, "a", b"old", "v1")  # "b" never reached GCS

    result = verify_objects({"S3": s3, "GCS": gcs}, acked)

    assert not result.complete
    assert result.verified == 2
    assert sorted(result.problems) == [
        "a on gcs holds other bytes than the last acknowledged put",
        "b is missing on gcs",
    ]

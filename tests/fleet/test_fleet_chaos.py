"""The fleet chaos run at the suite's size: 2 writer processes and 2 consumers for 8 s on moto and
fake-gcs-server, one PostgreSQL; S3 and SQS cut off, a writer SIGKILLed and replaced, the database
paused, GCS cut off, on the schedule of seed 1. One run for the module; each count its own test.
"""

from __future__ import annotations

from typing import Any

import pytest

from failover.testing.fleet_chaos import run

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(400)]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Consumers linger the run's default after the writers (`LINGER`: a sweep interval and a visibility).
    return run(processes=2, seconds=8.0, seed=1, workdir=tmp_path_factory.mktemp("fleet-chaos"))


def test_every_event_of_the_schedule_ran_while_the_fleet_worked(report: dict[str, Any]) -> None:
    assert report["events"] == ["aws", "kill", "postgres", "gcs"]
    assert report["acknowledged_writes"] > 0, report
    assert report["reads"] > 0, report
    assert report["messages_sent"] > 0, report


def test_no_acknowledged_write_is_lost(report: dict[str, Any]) -> None:
    assert report["acknowledged_writes_lost"] == 0, report


def test_no_read_returns_a_version_older_than_one_acknowledged_before_it(report: dict[str, Any]) -> None:
    assert report["stale_reads"] == 0, report


def test_every_store_holds_the_same_newest_version_of_every_key(report: dict[str, Any]) -> None:
    assert report["keys_not_converged"] == 0, report


def test_the_journal_is_drained(report: dict[str, Any]) -> None:
    assert report["journal_backlog_left"] == 0, report


def test_no_acknowledged_message_is_lost(report: dict[str, Any]) -> None:
    assert report["messages_lost"] == 0, report


def test_no_message_is_handed_to_the_application_twice(report: dict[str, Any]) -> None:
    assert report["messages_handed_twice"] == 0, report

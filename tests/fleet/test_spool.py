"""The database failing: entries spool to local SQLite and move into PostgreSQL when it returns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.fleet import FleetConfig, FleetDatabase, PostgresJournal, SpoolingJournal
from failover.storage import FailoverStorage
from failover.testing.contract.journal import SHA
from failover.testing.emulators import PostgresServer


@pytest.fixture
def journal(fleet_config: FleetConfig, tmp_path: Path) -> Iterator[SpoolingJournal]:
    with SpoolingJournal.open(fleet_config, spool=tmp_path / "spool.sqlite") as opened:
        yield opened


@pytest.fixture
def fleet_view(fleet_config: FleetConfig) -> Iterator[PostgresJournal]:
    """What another process sees in the fleet's journal."""
    db = FleetDatabase(fleet_config)
    yield PostgresJournal(db)
    db.close()


def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)


def test_appends_while_the_database_is_stopped_are_spooled_and_moved_when_it_returns(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    journal.append("k0", "v1", SHA, 1, "a", ["b"])
    postgres.stop()
    for n in range(1, 5):
        assert journal.append(f"k{n}", "v1", SHA, 1, "a", ["b"]) is True
    assert journal.spooled() == 4
    assert journal.backlog() == {"b": 4}, "the spooled entries are not counted while the database is away"
    postgres.start()
    _until(lambda: journal.spooled() == 0, timeout=10)
    assert fleet_view.backlog() == {"b": 5}
    assert {item.key for item in fleet_view.pending()} == {f"k{n}" for n in range(5)}


def test_append_to_a_paused_database_waits_at_most_the_call_timeout(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer, fleet_config: FleetConfig
) -> None:
    journal.append("warm", "v1", SHA, 1, "a", ["b"])  # a pooled connection, as in a running process
    postgres.pause()
    started = time.monotonic()
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    assert time.monotonic() - started < fleet_config.call_timeout + 0.5
    assert journal.spooled() == 1
    postgres.resume()
    _until(lambda: journal.spooled() == 0, timeout=10)
    assert fleet_view.newest_pending("k") == frozenset({"b"})


def test_spooled_entry_older_than_what_the_fleet_journaled_meanwhile_is_not_moved(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    journal.append("k", "v0", SHA, 1, "a", ["b"])
    postgres.stop()
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    postgres.start()
    fleet_view.append("k", "v2", SHA, 1, "b", ["a"])  # another process, as soon as the database is back
    _until(lambda: journal.spooled() == 0, timeout=10)
    assert [(i.version, i.store) for i in fleet_view.items("k")] == [("v2", "a")]


def test_process_started_while_the_database_is_down_spools_and_migrates_when_it_returns(
    fleet_config: FleetConfig, fleet_view: PostgresJournal, postgres: PostgresServer, tmp_path: Path
) -> None:
    postgres.stop()
    with SpoolingJournal.open(fleet_config, spool=tmp_path / "spool.sqlite") as journal:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        assert journal.newest_pending("k") == frozenset({"b"})
        postgres.start()
        _until(lambda: journal.spooled() == 0, timeout=10)
    assert fleet_view.newest_pending("k") == frozenset({"b"})


@pytest.mark.timeout(60)
def test_storage_writing_through_a_database_stop_and_pause_loses_no_write(
    journal: SpoolingJournal, postgres: PostgresServer
) -> None:
    a, b = MemoryStore("a"), MemoryStore("b")
    storage = FailoverStorage([a, b], journal=journal)
    try:
        written: dict[str, bytes] = {}
        for n in range(60):
            if n == 15:
                postgres.stop()
            if n == 30:
                postgres.start()
            if n == 40:
                postgres.pause()
            if n == 50:
                postgres.resume()
            key, body = f"k{n % 20}", f"body {n}".encode()
            storage.put(key, body)
            written[key] = body
        storage.replicator.drain(timeout=30)
        _until(lambda: journal.spooled() == 0 and not journal.backlog(), timeout=20)
        for key, body in written.items():
            assert a.get_bytes(key) == body, key
            assert b.get_bytes(key) == body, f"{key} did not reach the replica"
    finally:
        storage.close()

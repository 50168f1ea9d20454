"""The database failing: entries spool to local SQLite and move into PostgreSQL when it returns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.errors import JournalError
from failover.fleet import FleetConfig, FleetDatabase, PostgresJournal, SpoolingJournal
from failover.replication.journal import Op, SqliteJournal
from failover.storage import FailoverStorage
from failover.testing.contract import JournalContract, ManualWall
from failover.testing.contract.journal import SHA, OpenJournal
from failover.testing.emulators import PostgresServer

FOREVER = float("inf")


class TestSpoolingJournal(JournalContract):
    """With the database up, the spooling journal keeps the journal contract (one spool per process)."""

    @pytest.fixture
    def open_journal(self, db: FleetDatabase, wall: ManualWall, tmp_path: Path) -> Iterator[OpenJournal]:
        opened: list[SpoolingJournal] = []

        def open_journal() -> SpoolingJournal:
            spool = SqliteJournal(tmp_path / f"spool-{len(opened)}.sqlite", wall=wall)
            journal = SpoolingJournal(PostgresJournal(db, wall=wall), spool)
            opened.append(journal)
            return journal

        yield open_journal
        for journal in opened:
            journal.close()


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


def test_intent_recorded_while_the_database_is_stopped_is_spooled_then_moved(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    journal.append("warm", "v1", SHA, 1, "a", [])
    postgres.stop()
    journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=3600)
    assert [i.key for i in journal.intents(expired_by=FOREVER)] == ["k"]
    postgres.start()
    _until(lambda: journal.spool.intents(expired_by=FOREVER) == [], timeout=10)
    assert [i.key for i in fleet_view.intents(expired_by=FOREVER)] == ["k"]
    assert fleet_view.intents(expired_by=FOREVER)[0].expires > time.time() + 3000, "the lease was not kept"


def test_commit_clears_the_intent_wherever_this_process_recorded_it(
    journal: SpoolingJournal, postgres: PostgresServer
) -> None:
    journal.append("warm", "v1", SHA, 1, "a", [])
    postgres.stop()
    journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=3600)
    with journal._move_lock:  # the mover waits: the intent is still in the spool at the commit
        postgres.start()
        _until(lambda: journal.primary.db.available, timeout=10)
        assert journal.append("k", "v1", SHA, 1, "a", ["b"]) is True
        assert journal.spooled() == 0, "the commit went to the spool"
        assert journal.intents(expired_by=FOREVER) == []
    assert journal.backlog() == {"b": 1}


def test_newest_under_reads_the_spool_and_the_database_newest_version_first(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    journal.append("p/1", "v1", SHA, 1, "a", ["b"])
    journal.append("p/2", "v2", SHA, 1, "a", ["b"])
    postgres.stop()
    with journal._move_lock:  # the mover waits: the delete is still in the spool when listed
        journal.append("p/1", "v3", None, 0, "a", ["b"], Op.DELETE)
        postgres.start()
        _until(lambda: journal.primary.db.available, timeout=10)
        fleet_view.append("p/3", "v1", SHA, 1, "b", ["a"])
        under = [(i.key, i.version, i.store) for i in journal.newest_under("p/")]
    assert under == [("p/1", "v3", "b"), ("p/2", "v2", "b"), ("p/3", "v1", "a")]


def test_dead_letter_of_a_spooled_item_stays_in_the_spool(journal: SpoolingJournal, postgres: PostgresServer) -> None:
    journal.append("warm", "v1", SHA, 1, "a", [])
    postgres.stop()
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.dead_letter("k", "v1", "b", "source_missing")
    assert [(i.key, i.last_error) for i in journal.dead_letters()] == [("k", "source_missing")]
    assert journal.newest_pending("k") == frozenset({"b"})
    with pytest.raises(JournalError):  # the fleet's dead letters could not be revived: said so
        journal.revive()
    assert journal.spooled() == 1, "the spool's dead letter was not revived"


def test_dead_letter_of_a_spooled_item_moves_into_the_database_when_it_returns(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    journal.append("warm", "v1", SHA, 1, "a", [])
    postgres.stop()
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.dead_letter("k", "v1", "b", "source_missing")
    postgres.start()
    _until(lambda: not journal.spool.dead_letters(), timeout=10)
    assert [(i.key, i.version, i.store, i.last_error) for i in fleet_view.dead_letters()] == [
        ("k", "v1", "b", "source_missing")
    ]
    assert fleet_view.newest_pending("k") == frozenset({"b"}), "a dead letter's store still lacks the version"

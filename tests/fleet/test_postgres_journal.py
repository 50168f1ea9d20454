"""The journal contract, bound to the fleet's PostgreSQL journal; leases share the work of a fleet."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from failover.errors import JournalError
from failover.fleet import DatabaseUnavailable, FleetDatabase, PostgresJournal
from failover.testing.contract import JournalContract, ManualWall
from failover.testing.contract.journal import SHA, OpenJournal
from failover.testing.emulators import PostgresServer


class TestPostgresJournal(JournalContract):
    @pytest.fixture
    def open_journal(self, db: FleetDatabase, wall: ManualWall) -> Iterator[OpenJournal]:
        opened: list[PostgresJournal] = []

        def open_journal() -> PostgresJournal:
            journal = PostgresJournal(db, wall=wall)
            opened.append(journal)
            return journal

        yield open_journal
        for journal in opened:
            journal.close()


@pytest.fixture
def wall() -> ManualWall:
    return ManualWall()


@pytest.fixture
def other_db(db: FleetDatabase) -> Iterator[FleetDatabase]:
    """A second connection pool on the same schema: another process of the fleet."""
    other = FleetDatabase(db.config)
    yield other
    other.close()


def test_items_one_process_took_are_left_to_it_until_its_lease_runs_out(
    db: FleetDatabase, other_db: FleetDatabase, wall: ManualWall
) -> None:
    one = PostgresJournal(db, wall=wall, lease=30)
    two = PostgresJournal(other_db, wall=wall, lease=30)
    for n in range(4):
        one.append(f"k{n}", "v1", SHA, 1, "a", ["b"])
    assert len(one.pending("b", limit=3)) == 3
    assert [i.key for i in two.pending("b")] == ["k3"], "a leased item was handed to a second replicator"
    wall.seconds += 30
    assert [i.key for i in two.pending("b")] == ["k0", "k1", "k2", "k3"], "a dead process's items were not taken over"


def test_a_drain_listing_every_item_whatever_its_schedule_takes_none_another_replicator_holds(
    db: FleetDatabase, other_db: FleetDatabase, wall: ManualWall
) -> None:
    one = PostgresJournal(db, wall=wall, lease=30)
    two = PostgresJournal(other_db, wall=wall, lease=30)
    one.append("k", "v1", SHA, 1, "a", ["b"])
    one.append("j", "v2", SHA, 1, "a", ["b"])
    assert len(one.pending("b", limit=1)) == 1
    assert [i.key for i in two.pending("b", now=float("inf"))] == ["j"], "a drain took a leased item"
    assert two.is_pending("k", "v1", "b") is False


def test_item_held_by_another_replicator_is_not_pending_for_this_one(
    db: FleetDatabase, other_db: FleetDatabase, wall: ManualWall
) -> None:
    one = PostgresJournal(db, wall=wall, lease=30)
    two = PostgresJournal(other_db, wall=wall, lease=30)
    one.append("k", "v1", SHA, 1, "a", ["b"])
    one.pending()
    assert two.is_pending("k", "v1", "b") is False
    assert one.is_pending("k", "v1", "b") is True


def test_newest_version_pending_in_one_process_is_seen_by_every_other(
    db: FleetDatabase, other_db: FleetDatabase
) -> None:
    PostgresJournal(db).append("k", "v1", SHA, 1, "a", ["b", "c"])
    assert PostgresJournal(other_db).newest_pending("k") == frozenset({"b", "c"})


@pytest.mark.parametrize(
    "call",
    [
        "SELECT journal_append('k', 'v1', %(sha)s, 1, 'a', 'put', '{b}', 0, 1000)",
        "SELECT journal_intend('k', 'v1', %(sha)s, 1, 'put', '{a,b}', 0)",
    ],
    ids=["append", "intend"],
)
def test_append_and_intend_commit_durably_though_the_session_does_not(db: FleetDatabase, call: str) -> None:
    with db.connection() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        with conn.transaction():
            conn.execute(call, {"sha": SHA})
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_keys_versions_and_stores_compare_byte_for_byte_whatever_the_database_locale(db: FleetDatabase) -> None:
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT c.relname, a.attname, l.collname FROM pg_attribute AS a"
            " JOIN pg_class AS c ON c.oid = a.attrelid JOIN pg_collation AS l ON l.oid = a.attcollation"
            " WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'"
            " AND a.attname IN ('key', 'version', 'store') ORDER BY 1, 2",
            (db.schema,),
        ).fetchall()
    assert rows == [
        ("entries", "key", "C"),
        ("entries", "version", "C"),
        ("intents", "key", "C"),
        ("intents", "version", "C"),
        ("pending", "store", "C"),
    ]


def test_append_waiting_for_the_keys_turn_past_its_timeout_is_a_journal_error(
    db: FleetDatabase, other_db: FleetDatabase, wall: ManualWall
) -> None:
    journal = PostgresJournal(db, wall=wall)
    with other_db.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('failover.key'), hashtext('k'))")
        started = time.monotonic()
        with pytest.raises(JournalError) as raised:
            journal.append("k", "v1", SHA, 1, "a", ["b"], timeout=0.3)
        elapsed = time.monotonic() - started
    assert not isinstance(raised.value, DatabaseUnavailable), "a lock not granted made the database rest"
    assert elapsed < 0.9, f"append(timeout=0.3) took {elapsed:.2f} s"
    assert journal.append("k", "v1", SHA, 1, "a", ["b"], timeout=0.3) is True


def test_database_errors_of_any_journal_call_are_journal_errors(db: FleetDatabase, wall: ManualWall) -> None:
    journal = PostgresJournal(db, wall=wall)
    with db.connection() as conn:
        conn.execute("DROP TABLE pending")
    with pytest.raises(JournalError):
        journal.backlog()
    with pytest.raises(JournalError):
        journal.append("k", "v1", SHA, 1, "a", ["b"])


def test_journal_calls_while_the_database_is_stopped_are_journal_errors(
    db: FleetDatabase, wall: ManualWall, postgres: PostgresServer
) -> None:
    journal = PostgresJournal(db, wall=wall)
    postgres.stop()
    for call in (
        lambda: journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=10),
        lambda: journal.dead_letters(),
        lambda: journal.newest_under(""),
    ):
        with pytest.raises(JournalError):
            call()

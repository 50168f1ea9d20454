"""The journal contract, bound to the fleet's PostgreSQL journal; leases share the work of a fleet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.fleet import FleetDatabase, PostgresJournal
from failover.testing.contract import JournalContract, ManualWall
from failover.testing.contract.journal import SHA, OpenJournal


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


def test_append_commits_durably_though_the_session_does_not(db: FleetDatabase) -> None:
    with db.connection() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        with conn.transaction():
            conn.execute("SELECT journal_append('k', 'v1', %s, 1, 'a', 'put', '{b}', 0)", (SHA,))
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)

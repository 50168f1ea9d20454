"""Writers of one key in different processes take turns from intent to commit, so an older stamp
written after a newer one can never land over it on a store (the stores' last writer wins)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from failover.errors import JournalError
from failover.fleet import FleetDatabase, PostgresJournal
from failover.testing.contract.journal import SHA

LEASE = 60.0


@pytest.fixture
def other_db(db: FleetDatabase) -> Iterator[FleetDatabase]:
    """A second connection pool on the same schema: another process of the fleet."""
    other = FleetDatabase(db.config)
    yield other
    other.close()


def test_write_of_a_key_another_process_is_writing_waits_for_its_turn_then_fails_at_its_timeout(
    db: FleetDatabase, other_db: FleetDatabase
) -> None:
    PostgresJournal(db).intend("k", "v2", SHA, 1, ["a", "b"], lease=LEASE)
    started = time.monotonic()
    with pytest.raises(JournalError):
        PostgresJournal(other_db).intend("k", "v3", SHA, 1, ["a", "b"], lease=LEASE, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 0.9


def test_write_of_a_key_takes_its_turn_once_the_other_process_committed(
    db: FleetDatabase, other_db: FleetDatabase
) -> None:
    one, two = PostgresJournal(db), PostgresJournal(other_db)
    one.intend("k", "v2", SHA, 1, ["a", "b"], lease=LEASE)
    one.append("k", "v2", SHA, 1, "a", ["a", "b"])
    two.intend("k", "v3", SHA, 1, ["a", "b"], lease=LEASE, timeout=0.3)


def test_write_stamped_before_a_newer_one_of_another_process_is_refused(
    db: FleetDatabase, other_db: FleetDatabase
) -> None:
    one, two = PostgresJournal(db), PostgresJournal(other_db)
    one.intend("k", "v2", SHA, 1, ["a", "b"], lease=LEASE)
    one.append("k", "v2", SHA, 1, "a", ["a", "b"])
    with pytest.raises(JournalError, match="newer"):
        two.intend("k", "v1", SHA, 1, ["a", "b"], lease=LEASE, timeout=0.3)


def test_intent_of_a_process_that_died_does_not_hold_the_key(db: FleetDatabase) -> None:
    dead = FleetDatabase(db.config)
    PostgresJournal(dead).intend("k", "v2", SHA, 1, ["a", "b"], lease=LEASE)
    dead.close()  # its sessions end, as a killed process's do
    PostgresJournal(db).intend("k", "v3", SHA, 1, ["a", "b"], lease=LEASE, timeout=0.5)
    assert [intent.version for intent in PostgresJournal(db).intents(expired_by=float("inf"))] == ["v2", "v3"]


def test_writes_of_one_process_do_not_wait_for_each_other(db: FleetDatabase) -> None:
    journal = PostgresJournal(db)
    journal.intend("k", "v2", SHA, 1, ["a", "b"], lease=LEASE)
    journal.intend("k", "v3", SHA, 1, ["a", "b"], lease=LEASE, timeout=0.3)

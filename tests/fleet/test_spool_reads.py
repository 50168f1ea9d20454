"""Reads while the database does not answer: what this process knew was pending is still skipped."""

from __future__ import annotations

import time

from failover.fleet import PostgresJournal, SpoolingJournal
from failover.testing.contract.journal import SHA
from failover.testing.emulators import PostgresServer


def test_own_write_journaled_in_the_database_stays_pending_while_the_database_is_paused(
    journal: SpoolingJournal, postgres: PostgresServer
) -> None:
    assert journal.append("k", "v1", SHA, 1, "a", ["a", "b"]) is True
    assert journal.spooled() == 0, "journaled in the database, not spooled"
    postgres.pause()
    assert journal.newest_pending("k") == frozenset({"b"})


def test_another_process_write_seen_pending_before_the_database_paused_stays_pending(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    fleet_view.append("k", "v1", SHA, 1, "b", ["a", "b"])
    assert journal.newest_pending("k") == frozenset({"a"})
    postgres.stop()
    assert journal.newest_pending("k") == frozenset({"a"})


def test_write_the_fleet_replicated_is_not_pending_once_the_database_said_so(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["a", "b"])
    fleet_view.mark_done("k", "v1", "b")  # another process's replicator
    assert journal.newest_pending("k") == frozenset()
    postgres.stop()
    assert journal.newest_pending("k") == frozenset()


def test_write_this_process_replicated_is_not_pending_while_the_database_is_stopped(
    journal: SpoolingJournal, postgres: PostgresServer
) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["a", "b"])
    journal.mark_done("k", "v1", "b")
    postgres.stop()
    assert journal.newest_pending("k") == frozenset()


def test_another_process_write_journaled_before_the_database_paused_stays_pending(
    journal: SpoolingJournal, fleet_view: PostgresJournal, postgres: PostgresServer
) -> None:
    fleet_view.append("k", "v1", SHA, 1, "b", ["a", "b"])
    time.sleep(journal.move_interval * 3)  # the mover's look at what the fleet has pending
    postgres.stop()
    assert journal.newest_pending("k") == frozenset({"a"}), "never read here, but the fleet had it pending"

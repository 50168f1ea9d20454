"""The journal: a durable outbox of versions still to be copied, newest version of a key only."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.clock import ManualClock
from failover.replication.journal import Op, SqliteJournal
from failover.replication.replicator import Replicator
from tests.unit.journal_worker import DELETED, KEYS, DirStore

SHA = "ab" * 32


class Wall:
    def __init__(self, seconds: float = 1000.0) -> None:
        self.seconds = seconds

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def journal(tmp_path: Path, wall: Wall) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.db", wall=wall) as opened:
        yield opened


def test_appended_item_is_pending_for_each_named_store(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 3, "a", ["b", "c"])
    items = journal.pending()
    assert [(i.key, i.version, i.store, i.source, i.op, i.sha256, i.size) for i in items] == [
        ("k", "v1", "b", "a", Op.PUT, SHA, 3),
        ("k", "v1", "c", "a", Op.PUT, SHA, 3),
    ]
    assert all(i.attempts == 0 for i in items)


def test_pending_is_oldest_version_first_across_keys(journal: SqliteJournal) -> None:
    journal.append("z", "v1", SHA, 1, "a", ["b"])
    journal.append("y", "v3", SHA, 1, "a", ["b"])
    journal.append("x", "v2", SHA, 1, "a", ["b"])
    assert [i.key for i in journal.pending("b")] == ["z", "x", "y"]


def test_pending_filters_by_store_and_limit(journal: SqliteJournal) -> None:
    for n in range(5):
        journal.append(f"k{n}", f"v{n}", SHA, 1, "a", ["b", "c"])
    assert {i.store for i in journal.pending("c")} == {"c"}
    assert [i.key for i in journal.pending("b", limit=2)] == ["k0", "k1"]


def test_newer_version_retires_the_older_on_every_store(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
    journal.append("k", "v2", SHA, 2, "b", ["a", "c"])
    assert [(i.version, i.store) for i in journal.pending()] == [("v2", "a"), ("v2", "c")]


def test_append_with_nothing_pending_still_retires_older_versions(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    assert journal.append("k", "v2", SHA, 1, "a", []) is True
    assert journal.pending() == []
    assert journal.newest_pending("k") == frozenset()


def test_older_version_appended_after_a_newer_one_is_not_recorded(journal: SqliteJournal) -> None:
    journal.append("k", "v2", SHA, 1, "a", ["b"])
    assert journal.append("k", "v1", SHA, 1, "a", ["b", "c"]) is False
    assert [(i.version, i.store) for i in journal.pending()] == [("v2", "b")]


def test_tombstone_retires_an_older_put_and_carries_no_checksum(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.append("k", "v2", None, 0, "a", ["b"], Op.DELETE)
    (item,) = journal.pending()
    assert (item.version, item.op, item.sha256) == ("v2", Op.DELETE, None)


def test_put_without_checksum_is_refused(journal: SqliteJournal) -> None:
    with pytest.raises(ValueError, match="sha256"):
        journal.append("k", "v1", None, 1, "a", ["b"])


def test_source_store_is_never_pending(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["a", "b"])
    assert [i.store for i in journal.pending()] == ["b"]


def test_appending_the_same_version_twice_adds_stores_once(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
    assert journal.backlog() == {"b": 1, "c": 1}


def test_mark_done_removes_one_store_and_then_the_entry(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
    journal.mark_done("k", "v1", "b")
    assert journal.backlog() == {"c": 1}
    journal.mark_done("k", "v1", "c")
    assert journal.backlog() == {}
    # The entry is gone too: an older version may be journaled again (the replicator's head decides).
    assert journal.append("k", "v0", SHA, 1, "a", ["b"]) is True


def test_mark_done_of_a_retired_version_is_harmless(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.append("k", "v2", SHA, 1, "a", ["b"])
    journal.mark_done("k", "v1", "b")
    assert [(i.version, i.store) for i in journal.pending()] == [("v2", "b")]


def test_item_is_pending_until_it_is_done(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
    assert (journal.is_pending("k", "v1", "b"), journal.is_pending("k", "v1", "a")) == (True, False)
    journal.mark_done("k", "v1", "b")
    assert (journal.is_pending("k", "v1", "b"), journal.is_pending("k", "v1", "c")) == (False, True)


def test_item_retired_by_a_newer_version_or_a_tombstone_is_no_longer_pending(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.append("k", "v2", None, 0, "b", ["a"], Op.DELETE)
    assert journal.is_pending("k", "v1", "b") is False, "a put the tombstone retired still counts as pending"
    assert journal.is_pending("k", "v2", "a") is True


def test_item_waiting_for_a_retry_is_still_pending(journal: SqliteJournal, wall: Wall) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.reschedule("k", "v1", "b", wall.seconds + 60, "down")
    assert journal.is_pending("k", "v1", "b") is True


def test_reschedule_counts_the_attempt_and_hides_the_item_until_due(journal: SqliteJournal, wall: Wall) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
    journal.reschedule("k", "v1", "b", next_attempt=wall.seconds + 30, error="refused")
    assert [i.store for i in journal.pending()] == ["c"]
    wall.seconds += 30
    item = next(i for i in journal.pending() if i.store == "b")
    assert (item.attempts, item.last_error, item.next_attempt) == (1, "refused", 1030.0)


def test_pending_at_an_explicit_time(journal: SqliteJournal, wall: Wall) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    assert journal.pending(now=wall.seconds - 1) == []
    assert len(journal.pending(now=wall.seconds)) == 1


def test_newest_pending_names_the_stores_that_may_be_stale(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
    journal.mark_done("k", "v1", "c")
    assert journal.newest_pending("k") == frozenset({"b"})
    assert journal.newest_pending("other") == frozenset()


def test_newest_pending_counts_items_waiting_for_a_retry(journal: SqliteJournal, wall: Wall) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.reschedule("k", "v1", "b", next_attempt=wall.seconds + 3600)
    assert journal.newest_pending("k") == frozenset({"b"})


def test_backlog_counts_per_store(journal: SqliteJournal) -> None:
    journal.append("k1", "v1", SHA, 1, "a", ["b", "c"])
    journal.append("k2", "v1", SHA, 1, "a", ["b"])
    assert journal.backlog() == {"b": 2, "c": 1}


def test_items_lists_a_keys_pending_items_due_or_not(journal: SqliteJournal, wall: Wall) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    journal.reschedule("k", "v1", "b", next_attempt=wall.seconds + 60)
    assert [(i.version, i.store) for i in journal.items("k")] == [("v1", "b")]


def test_rows_survive_closing_and_reopening(tmp_path: Path, wall: Wall) -> None:
    with SqliteJournal(tmp_path / "j.db", wall=wall) as first:
        first.append("k", "v1", SHA, 1, "a", ["b"])
    with SqliteJournal(tmp_path / "j.db", wall=wall) as second:
        assert [(i.key, i.store) for i in second.pending()] == [("k", "b")]


def test_two_journals_on_one_file_see_each_others_appends(tmp_path: Path, wall: Wall) -> None:
    with SqliteJournal(tmp_path / "j.db", wall=wall) as one, SqliteJournal(tmp_path / "j.db", wall=wall) as two:
        one.append("k", "v1", SHA, 1, "a", ["b"])
        two.append("k", "v2", SHA, 1, "a", ["b"])
        assert [i.version for i in one.pending()] == ["v2"]


def test_file_is_in_wal_mode_with_full_sync(journal: SqliteJournal) -> None:
    conn = sqlite3.connect(journal.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
    # synchronous is per connection: check the one the journal commits through.
    with journal._db.write() as own:
        assert own.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_reads_are_not_blocked_by_a_write_in_progress(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    with journal._db.write() as conn:  # a write transaction held open, as during a commit's fsync
        conn.execute("DELETE FROM pending")
        answers: list[frozenset[str]] = []
        reader = threading.Thread(target=lambda: answers.append(journal.newest_pending("k")))
        reader.start()
        reader.join(timeout=5)
        assert answers == [frozenset({"b"})], "a read waited for the writer, or saw its uncommitted work"


def test_concurrent_appends_from_threads_all_land(journal: SqliteJournal) -> None:
    def work(n: int) -> None:
        for i in range(25):
            journal.append(f"t{n}-{i}", "v1", SHA, 1, "a", ["b"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert journal.backlog() == {"b": 100}


# A killed writer: the journal is the only record of what store b still needs.


def _start_worker(root: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.unit.journal_worker", str(root), mode],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish_in_this_process(root: Path) -> tuple[DirStore, DirStore, dict[str, int]]:
    """Open the dead writer's journal and stores afresh and drain what is left; the backlog found."""
    source, target = DirStore(root, "a"), DirStore(root, "b")
    with SqliteJournal(root / "journal.db") as journal:
        left = journal.backlog()
        Replicator({"a": source, "b": target}, journal, clock=ManualClock()).drain(timeout=60)
        assert journal.backlog() == {}, "the new process did not finish the replication"
    return source, target, left


def _assert_replica_matches_and_no_put_repeated_or_reordered(source: DirStore, target: DirStore) -> None:
    assert target.stored_keys() == source.stored_keys() == {f"key-{n:02d}" for n in range(KEYS)} - set(DELETED)
    for key in source.stored_keys():
        want, got = source.head(key), target.head(key)
        assert (got.version, got.sha256) == (want.version, want.sha256), key
        assert target.get_bytes(key) == source.get_bytes(key), key
    landed = target.landed()
    assert len(landed) == len(set(landed)), f"a version was put twice: {landed}"
    for key in {key for key, _ in landed}:
        versions = [version for k, version in landed if k == key]
        assert versions == sorted(versions), f"{key} got an older version after a newer one: {versions}"


@pytest.mark.timeout(60)
def test_replication_killed_mid_way_is_finished_from_the_journal_by_a_new_process(tmp_path: Path) -> None:
    worker = _start_worker(tmp_path, "concurrent")
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "WRITES_DONE", worker.stderr.read() if worker.stderr else ""
        # Wait (on the worker's own output, not a clock) until a few copies have landed, then kill.
        while len(DirStore(tmp_path, "b").landed()) < 3:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.002)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate()
    assert worker.returncode == -signal.SIGKILL
    source, target, left = _finish_in_this_process(tmp_path)
    assert left.get("b", 0) > 0, "the worker was not killed mid-replication"
    _assert_replica_matches_and_no_put_repeated_or_reordered(source, target)


@pytest.mark.timeout(60)
def test_copy_that_landed_just_before_a_sigkill_is_not_applied_again(tmp_path: Path) -> None:
    worker = _start_worker(tmp_path, "kill-at-5")
    _, errors = worker.communicate(timeout=60)
    assert worker.returncode == -signal.SIGKILL, errors
    landed_before = DirStore(tmp_path, "b").landed()
    assert len(landed_before) == 5
    source, target, _ = _finish_in_this_process(tmp_path)
    # The fifth copy landed and was never marked done: the new process must find it, not redo it.
    assert target.landed()[:5] == landed_before
    _assert_replica_matches_and_no_put_repeated_or_reordered(source, target)

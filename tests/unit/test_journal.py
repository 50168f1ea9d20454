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
from failover.replication.journal import SqliteJournal
from failover.replication.replicator import Replicator
from failover.testing.contract import JournalContract, ManualWall
from failover.testing.contract.journal import SHA, OpenJournal
from tests.unit.journal_worker import DELETED, KEYS, DirStore


class TestSqliteJournal(JournalContract):
    @pytest.fixture
    def open_journal(self, tmp_path: Path, wall: ManualWall) -> Iterator[OpenJournal]:
        opened: list[SqliteJournal] = []

        def open_journal() -> SqliteJournal:
            journal = SqliteJournal(tmp_path / "journal.db", wall=wall)
            opened.append(journal)
            return journal

        yield open_journal
        for journal in opened:
            journal.close()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.db", wall=ManualWall()) as opened:
        yield opened


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

"""Group commit: journal calls of many threads share one commit (one fsync), each acknowledged after it.

A test journal counts its commits through ``on_commit``, and can hold the first one open (as a
slow fsync would) until the other threads have queued, so that what forms the next group is
decided by the test, not by the scheduler.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.errors import JournalError
from failover.replication._sqlite import SqliteFile
from failover.replication.journal import SqliteJournal
from failover.storage import FailoverStorage
from failover.testing.contract import ManualWall
from failover.testing.contract.journal import SHA

THREADS = 8
_ROOT = Path(__file__).resolve().parents[2]


class _Commits:
    """``on_commit``: the calls each commit covered, and the keys on disk after it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sizes: list[int] = []
        self.synced: list[bool] = []
        self.durable: set[str] = set()
        self.hold_first: Callable[[], None] | None = None

    def __call__(self, calls: int, synced: bool) -> None:
        if not self.sizes and self.hold_first is not None:
            self.hold_first()
        self.sizes.append(calls)
        self.synced.append(synced)
        # What another connection reads now is what the commit made durable (synchronous=FULL).
        other = sqlite3.connect(self.path)
        try:
            self.durable |= {key for (key,) in other.execute("SELECT key FROM entries")}
        finally:
            other.close()


@pytest.fixture
def commits(tmp_path: Path) -> _Commits:
    return _Commits(tmp_path / "journal.db")


@pytest.fixture
def journal(commits: _Commits) -> Iterator[SqliteJournal]:
    with SqliteJournal(commits.path, wall=ManualWall(), on_commit=commits) as opened:
        yield opened


def _queued(journal: SqliteJournal, count: int) -> Callable[[], None]:
    """Wait (bounded) until ``count`` calls are queued behind the commit in progress."""

    def wait() -> None:
        deadline = time.monotonic() + 10
        while len(journal._db._queued) < count:
            assert time.monotonic() < deadline, "the other threads never queued"
            time.sleep(0.001)

    return wait


def test_one_append_alone_is_one_commit(journal: SqliteJournal, commits: _Commits) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    assert commits.sizes == [1]


def test_appends_of_threads_that_arrive_during_a_commit_share_the_next_commit(
    journal: SqliteJournal, commits: _Commits
) -> None:
    commits.hold_first = _queued(journal, THREADS - 1)
    unacknowledged: list[str] = []
    errors: list[BaseException] = []

    def append(key: str) -> None:
        try:
            journal.append(key, "v1", SHA, 1, "a", ["b"])
            if key not in commits.durable:  # acknowledged before the commit that holds it
                unacknowledged.append(key)
        except BaseException as exc:
            errors.append(exc)

    first = threading.Thread(target=append, args=("k0",))
    first.start()
    while len(journal._db._queued) or not journal._db._leading:
        time.sleep(0.001)  # the first call leads (its commit is held open)
    others = [threading.Thread(target=append, args=(f"k{n}",)) for n in range(1, THREADS)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(timeout=30)
    assert errors == []
    assert commits.sizes == [1, THREADS - 1], "the calls queued during the first commit did not share one"
    assert unacknowledged == []
    assert commits.durable == {f"k{n}" for n in range(THREADS)}


def test_every_append_of_many_threads_is_durable_when_acknowledged(journal: SqliteJournal, commits: _Commits) -> None:
    unacknowledged: list[str] = []

    def append(thread: int) -> None:
        for n in range(20):
            key = f"t{thread}-{n}"
            journal.append(key, "v1", SHA, 1, "a", ["b"])
            if key not in commits.durable:
                unacknowledged.append(key)

    threads = [threading.Thread(target=append, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert unacknowledged == []
    assert sum(commits.sizes) == THREADS * 20
    assert len(commits.sizes) <= THREADS * 20


def test_a_failing_call_in_a_group_undoes_only_its_own_work(tmp_path: Path) -> None:
    db = SqliteFile(tmp_path / "x.db", synchronous="FULL", busy_timeout=5, schema="CREATE TABLE t (v INTEGER UNIQUE)")
    try:
        hold = threading.Event()
        db.on_commit = lambda calls, synced: hold.wait(10) if calls == 1 and not hold.is_set() else None
        outcomes: dict[str, object] = {}

        def insert(tag: str, value: int) -> None:
            try:
                outcomes[tag] = db.commit(lambda conn: conn.execute("INSERT INTO t VALUES (?)", (value,)).rowcount)
            except JournalError as exc:
                outcomes[tag] = exc

        first = threading.Thread(target=insert, args=("first", 1))
        first.start()
        while not db._leading:
            time.sleep(0.001)
        group = [threading.Thread(target=insert, args=args) for args in (("two", 2), ("again", 1), ("three", 3))]
        for thread in group:
            thread.start()
        while len(db._queued) < 3:
            time.sleep(0.001)
        hold.set()
        for thread in [first, *group]:
            thread.join(timeout=30)
        assert isinstance(outcomes.pop("again"), JournalError), "a UNIQUE violation was not raised to its caller"
        assert outcomes == {"first": 1, "two": 1, "three": 1}
        with db.read() as conn:
            assert sorted(v for (v,) in conn.execute("SELECT v FROM t")) == [1, 2, 3]
    finally:
        db.close()


def test_a_call_queued_behind_a_stuck_commit_fails_within_its_timeout(tmp_path: Path) -> None:
    release = threading.Event()
    db = SqliteFile(tmp_path / "x.db", synchronous="FULL", busy_timeout=5, schema="CREATE TABLE t (v INTEGER)")
    db.on_commit = lambda calls, synced: release.wait(10)
    try:
        leader = threading.Thread(target=db.commit, args=(lambda conn: conn.execute("INSERT INTO t VALUES (1)"),))
        leader.start()
        while not db._leading:
            time.sleep(0.001)
        started = time.monotonic()
        with pytest.raises(JournalError):
            db.commit(lambda conn: conn.execute("INSERT INTO t VALUES (2)"), timeout=0.2)
        assert time.monotonic() - started < 1.0
        release.set()
        leader.join(timeout=10)
        with db.read() as conn:
            assert [v for (v,) in conn.execute("SELECT v FROM t")] == [1]
    finally:
        release.set()
        db.close()


def test_a_put_alone_pays_one_fsync(journal: SqliteJournal, commits: _Commits) -> None:
    with FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=journal, replicate=False) as storage:
        storage.put("k", b"v")
    assert commits.synced == [False, True], "the intent, then the append that acknowledges the put"
    assert "k" in commits.durable


def test_an_intent_survives_its_process_being_killed_right_after(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    code = (
        "import os, signal\n"
        "from failover.replication.journal import SqliteJournal\n"
        f"j = SqliteJournal({str(path)!r})\n"
        f"j.intend('k', 'v1', {SHA!r}, 1, ['a', 'b'], lease=0)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code], cwd=_ROOT, timeout=60, check=False)
    assert killed.returncode == -signal.SIGKILL
    with SqliteJournal(path) as journal:
        assert [intent.key for intent in journal.intents(expired_by=float("inf"))] == ["k"]

"""The journal under a hostile environment: locked by another process, opened by many at once,
a bad path, a failed COMMIT. Every failure is a `FailoverError`, and no wait outlasts the deadline."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.engine import EngineSettings
from failover.errors import ConfigError, FailoverError, JournalError
from failover.replication._sqlite import SqliteFile
from failover.replication.dedup import SqliteDedupWindow
from failover.replication.journal import SqliteJournal
from failover.storage import FailoverStorage

SHA = "ab" * 32


@contextlib.contextmanager
def _write_lock_held(path: Path, seconds: float) -> Iterator[None]:
    """Another process holds the file's write lock for ``seconds`` (or until the block ends)."""
    script = textwrap.dedent(
        f"""
        import sqlite3, sys, time
        conn = sqlite3.connect({str(path)!r}, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        time.sleep({seconds})
        conn.execute("ROLLBACK")
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            yield
        finally:
            holder.kill()


@pytest.mark.parametrize("where", ["missing-dir", "a-directory"])
def test_journal_path_that_cannot_be_a_file_is_a_config_error(tmp_path: Path, where: str) -> None:
    path = tmp_path / "missing" / "journal.sqlite" if where == "missing-dir" else tmp_path
    with pytest.raises(ConfigError, match="journal"):
        SqliteJournal(path)


def test_dedup_window_path_in_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        SqliteDedupWindow(tmp_path / "missing" / "dedup.sqlite", ttl=60)


def test_failover_storage_with_a_bad_journal_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=tmp_path / "no" / "j.sqlite")


def test_locked_journal_raises_a_journal_error_within_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with SqliteJournal(path) as journal, _write_lock_held(path, 3):
        started = time.monotonic()
        with pytest.raises(JournalError):
            journal.append("k", "v1", SHA, 1, "a", ["b"], timeout=0.5)
        assert time.monotonic() - started < 1.5


def test_put_with_the_journal_locked_for_longer_than_its_deadline_fails_in_time_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    a, b = MemoryStore("a"), MemoryStore("b")
    settings = EngineSettings(start_probers=False)
    with FailoverStorage([a, b], journal=path, settings=settings, replicate=False) as storage:
        with _write_lock_held(path, 7):
            started = time.monotonic()
            with pytest.raises(FailoverError) as raised:
                storage.put("k", b"v", timeout=3)
            elapsed = time.monotonic() - started
        assert isinstance(raised.value, JournalError), f"{type(raised.value).__name__}: {raised.value}"
        assert elapsed < 3.5, f"put(timeout=3) took {elapsed:.2f} s"
        unjournaled = [store.name for store in (a, b) if "k" in {getattr(entry, "key", None) for entry in store.list()}]
        assert unjournaled == [], "the object was written to a store the journal does not know of"


_OPENERS = {
    "journal": "from failover.replication.journal import SqliteJournal as Opened",
    "dedup": "from functools import partial; from failover.replication.dedup import SqliteDedupWindow;"
    " Opened = partial(SqliteDedupWindow, ttl=60)",
}


@pytest.mark.parametrize("kind", sorted(_OPENERS))
def test_schema_creation_is_safe_when_many_processes_open_a_new_path_at_once(tmp_path: Path, kind: str) -> None:
    start = time.time() + 1.5
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        {_OPENERS[kind]}
        root = Path({str(tmp_path)!r})
        time.sleep(max(0.0, {start} - time.time()))
        for n in range(40):
            Opened(root / f"j{{n}}.sqlite").close()
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True) for _ in range(8)]
    errors = [err for worker in workers if (err := worker.communicate(timeout=120)[1]) and worker.returncode]
    assert errors == [], errors[0][-2000:]


def test_locked_dedup_window_raises_a_journal_error_within_its_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "dedup.sqlite"
    with SqliteDedupWindow(path, ttl=60, busy_timeout=0.5) as window, _write_lock_held(path, 3):
        started = time.monotonic()
        with pytest.raises(JournalError):
            window.seen("id-1")
        assert time.monotonic() - started < 1.5


def test_a_failed_commit_is_rolled_back_and_raised_as_a_journal_error(tmp_path: Path) -> None:
    schema = """
    CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS child (
        parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED
    )
    """
    db = SqliteFile(tmp_path / "x.sqlite", synchronous="FULL", busy_timeout=1, schema=schema)
    try:
        # The deferred foreign key is checked at COMMIT, which fails (SqliteFile turns foreign keys on).
        with pytest.raises(JournalError), db.write() as conn:
            conn.execute("INSERT INTO child (parent) VALUES (42)")
        with db.write() as conn:  # the connection is usable: not stuck in the failed transaction
            conn.execute("INSERT INTO parent (id) VALUES (1)")
        with db.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM child").fetchone() == (0,)
    finally:
        db.close()


def test_sqlite_errors_of_any_journal_call_are_journal_errors(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with SqliteJournal(path) as journal:
        conn = sqlite3.connect(path)
        conn.execute("DROP TABLE pending")
        conn.commit()
        conn.close()
        with pytest.raises(JournalError):
            journal.backlog()
        with pytest.raises(JournalError):
            journal.append("k", "v1", SHA, 1, "a", ["b"])

"""`SqliteJournal.newest_pending` answers from memory while nothing changed, and never misses a change.

Every read asks the journal which stores may be stale for its key. The answers are kept in memory
and dropped whenever anything was committed to the file, by this journal, by another connection or
by another process (the file is shared: two writers on one journal is a supported set-up).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.replication import _sqlite
from failover.replication.journal import SqliteJournal
from failover.testing.contract import ManualWall
from failover.testing.contract.journal import SHA

_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["wal-index header", "data_version"])
def detector(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How a journal learns that the file changed: the mapped WAL-index header, or its fallback."""
    if request.param == "data_version":
        monkeypatch.setattr(_sqlite._WalHeader, "open", classmethod(lambda cls, database: None))
    return str(request.param)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


@pytest.fixture
def journal(path: Path, detector: str) -> Iterator[SqliteJournal]:
    with SqliteJournal(path, wall=ManualWall()) as opened:
        yield opened


def _queries(journal: SqliteJournal) -> list[str]:
    """The statements the journal's reader connection runs from now on."""
    seen: list[str] = []
    reader = journal._db._reader
    assert reader is not None
    reader.set_trace_callback(seen.append)
    return seen


def test_repeated_reads_of_an_unchanged_journal_query_the_file_once_per_key(journal: SqliteJournal) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    queries = _queries(journal)
    for _ in range(5):
        assert journal.newest_pending("k") == frozenset({"b"})
        assert journal.newest_pending("other") == frozenset()
    assert len([q for q in queries if "FROM entries" in q]) == 2


def test_the_journals_own_append_is_seen_by_the_next_read(journal: SqliteJournal) -> None:
    assert journal.newest_pending("k") == frozenset()
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    assert journal.newest_pending("k") == frozenset({"b"})
    journal.mark_done("k", "v1", "b")
    assert journal.newest_pending("k") == frozenset()


def test_a_pending_entry_appended_through_another_connection_is_seen_by_the_next_read(
    journal: SqliteJournal, path: Path
) -> None:
    assert journal.newest_pending("k") == frozenset()
    with SqliteJournal(path, wall=ManualWall()) as other:
        other.append("k", "v1", SHA, 1, "a", ["b"])
    assert journal.newest_pending("k") == frozenset({"b"})


def _in_another_process(path: Path, statements: str) -> None:
    code = f"from failover.replication.journal import SqliteJournal\nwith SqliteJournal({str(path)!r}) as j:\n"
    code += "".join(f"    {line}\n" for line in statements.splitlines())
    subprocess.run([sys.executable, "-c", code], cwd=_ROOT, check=True, timeout=60)


@pytest.mark.timeout(60)
def test_a_pending_entry_appended_by_another_process_is_seen_by_the_next_read(
    journal: SqliteJournal, path: Path
) -> None:
    assert journal.newest_pending("k") == frozenset()
    _in_another_process(path, f"j.append('k', 'v1', {SHA!r}, 1, 'a', ['b', 'c'])")
    assert journal.newest_pending("k") == frozenset({"b", "c"})
    _in_another_process(path, "j.mark_done('k', 'v1', 'b')")
    assert journal.newest_pending("k") == frozenset({"c"})


def test_a_newer_version_appended_by_another_connection_replaces_the_remembered_answer(
    journal: SqliteJournal, path: Path
) -> None:
    journal.append("k", "v1", SHA, 1, "a", ["b"])
    assert journal.newest_pending("k") == frozenset({"b"})
    with SqliteJournal(path, wall=ManualWall()) as other:
        other.append("k", "v2", SHA, 1, "b", ["a"])
    assert journal.newest_pending("k") == frozenset({"a"})


def test_the_journals_own_append_drops_the_remembered_answer_of_its_key_only(path: Path) -> None:
    with SqliteJournal(path, wall=ManualWall()) as journal:
        journal.newest_pending("k")
        journal.newest_pending("other")
        queries = _queries(journal)
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        assert journal.newest_pending("k") == frozenset({"b"})
        assert journal.newest_pending("other") == frozenset()
        assert [q for q in queries if "FROM entries AS e JOIN pending" in q] == [
            q for q in queries if "FROM entries AS e JOIN pending" in q and "'k'" in q
        ]
        assert len([q for q in queries if "FROM entries AS e JOIN pending" in q]) == 1


def test_an_intent_keeps_every_remembered_answer(path: Path) -> None:
    with SqliteJournal(path, wall=ManualWall()) as journal:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.newest_pending("k")
        queries = _queries(journal)
        journal.intend("k", "v2", SHA, 1, ["a", "b"], lease=60)
        assert journal.newest_pending("k") == frozenset({"b"})
        assert not [q for q in queries if "FROM entries AS e JOIN pending" in q]

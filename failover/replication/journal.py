"""The journal: a durable outbox of the versions each store still has to receive.

`FailoverStorage` appends one entry per acknowledged write (or delete: a tombstone) naming the stores
that did not get it; the `Replicator` works through the pending (entry, store) pairs, oldest version
first, and marks each done. The journal holds no object bytes: the replicator reads them from a store
that has the version.

Only the newest version of a key is worth copying. Appending a version retires every older entry of
that key (the newer version reaches the same stores, or is already there), and an entry older than
one already journaled is not recorded at all. So replication never copies an older version after a
newer one, and a key whose newest version is pending on a store is exactly the key that store may
serve stale (`newest_pending`, for read-your-writes).
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from failover.replication._sqlite import SqliteFile

__all__ = ["Journal", "JournalItem", "Op", "SqliteJournal"]


class Op(enum.StrEnum):
    """What an entry asks a store to do."""

    PUT = "put"
    DELETE = "delete"  # a tombstone


@dataclass(frozen=True, slots=True)
class JournalItem:
    """One version of one key still to be applied to one store."""

    key: str
    version: str
    sha256: str | None  # None for a tombstone
    size: int
    source: str  # the store that acknowledged the write
    op: Op
    store: str  # the store still pending
    attempts: int
    next_attempt: float  # seconds since the epoch
    created: float
    last_error: str | None = None


class Journal(Protocol):
    """A durable outbox; SQLite by default, a shared database for a fleet of writers."""

    def append(
        self,
        key: str,
        version: str,
        sha256: str | None,
        size: int,
        source: str,
        pending_stores: Collection[str],
        op: Op = Op.PUT,
    ) -> bool:
        """Record that ``pending_stores`` still need this version; durable when it returns.

        Retires older entries of ``key``; call it after every acknowledged write, even with no store
        pending. Returns False when a newer version of ``key`` is already journaled (nothing recorded).
        """
        ...

    def pending(self, store: str | None = None, *, limit: int = 100, now: float | None = None) -> list[JournalItem]:
        """Items due at ``now`` (for one store, or all), oldest version first."""
        ...

    def is_pending(self, key: str, version: str, store: str) -> bool:
        """Whether ``version`` of ``key`` is still to be applied to ``store``: neither done nor retired by
        a newer version. The replicator asks right before applying an item it listed earlier."""
        ...

    def mark_done(self, key: str, version: str, store: str) -> None: ...

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        """Try this item again at ``next_attempt``; counts one more attempt."""
        ...

    def newest_pending(self, key: str) -> frozenset[str]:
        """The stores that do not yet hold the newest journaled version of ``key`` (may serve it stale)."""
        ...

    def backlog(self) -> dict[str, int]:
        """The number of pending items per store (stores with none are absent)."""
        ...

    def newest_under(self, prefix: str) -> list[JournalItem]:
        """The pending items of the newest journaled version of each key starting with ``prefix``,
        due or not, in key order (a listing's overlay: what each store still lacks or still holds)."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER NOT NULL,
    source TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    created REAL NOT NULL,
    UNIQUE (key, version)
);
CREATE INDEX IF NOT EXISTS entries_by_version ON entries (version);
CREATE TABLE IF NOT EXISTS pending (
    entry_id INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    store TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    PRIMARY KEY (entry_id, store)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_by_store ON pending (store, next_attempt)
"""

_SELECT_ITEMS = """
SELECT e.key, e.version, e.sha256, e.size, e.source, e.op, p.store, p.attempts, p.next_attempt, e.created,
       p.last_error
FROM pending AS p JOIN entries AS e ON e.id = p.entry_id
"""


class SqliteJournal:
    """The `Journal` in one SQLite file (WAL mode), shared by the threads and processes that open it.

    ``synchronous=FULL``: a commit reaches the disk before `append` returns, because the append is
    part of a write's acknowledgement; with NORMAL, a power loss could forget the last appends and so
    leave acknowledged writes on one provider only. ``wall`` gives the time the schedule is kept in:
    wall-clock seconds, because the rows outlive the process (a monotonic clock restarts at boot).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        wall: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
    ) -> None:
        self._db = SqliteFile(path, synchronous="FULL", busy_timeout=busy_timeout, schema=_SCHEMA)
        self._wall = wall

    @property
    def path(self) -> str:
        return str(self._db.path)

    def append(
        self,
        key: str,
        version: str,
        sha256: str | None,
        size: int,
        source: str,
        pending_stores: Collection[str],
        op: Op = Op.PUT,
    ) -> bool:
        op = Op(op)
        if op is Op.PUT and not sha256:
            raise ValueError("a put entry needs the object's sha256")
        now = self._wall()
        with self._db.write() as conn:
            newer = conn.execute("SELECT 1 FROM entries WHERE key = ? AND version > ? LIMIT 1", (key, version))
            if newer.fetchone() is not None:
                return False
            # Older versions are superseded on every store: the new one goes wherever they were going.
            conn.execute(
                "DELETE FROM pending WHERE entry_id IN (SELECT id FROM entries WHERE key = ? AND version < ?)",
                (key, version),
            )
            conn.execute("DELETE FROM entries WHERE key = ? AND version < ?", (key, version))
            stores = sorted(set(pending_stores) - {source})
            if not stores:
                return True
            conn.execute(
                "INSERT INTO entries (key, version, sha256, size, source, op, created) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key, version) DO NOTHING",
                (key, version, sha256, size, source, op.value, now),
            )
            (entry_id,) = conn.execute(
                "SELECT id FROM entries WHERE key = ? AND version = ?", (key, version)
            ).fetchone()
            conn.executemany(
                "INSERT INTO pending (entry_id, store, next_attempt) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(entry_id, store, now) for store in stores],
            )
        return True

    def pending(self, store: str | None = None, *, limit: int = 100, now: float | None = None) -> list[JournalItem]:
        due = self._wall() if now is None else now
        where, params = (
            ("WHERE p.next_attempt <= ?", [due])
            if store is None
            else (
                "WHERE p.store = ? AND p.next_attempt <= ?",
                [store, due],
            )
        )
        query = f"{_SELECT_ITEMS} {where} ORDER BY e.version, p.store LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(query, (*params, limit)).fetchall()
        return [_item(row) for row in rows]

    def is_pending(self, key: str, version: str, store: str) -> bool:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT 1 FROM pending AS p JOIN entries AS e ON e.id = p.entry_id"
                " WHERE e.key = ? AND e.version = ? AND p.store = ?",
                (key, version, store),
            ).fetchone()
        return row is not None

    def mark_done(self, key: str, version: str, store: str) -> None:
        with self._db.write() as conn:
            row = conn.execute("SELECT id FROM entries WHERE key = ? AND version = ?", (key, version)).fetchone()
            if row is None:
                return  # retired by a newer version meanwhile
            conn.execute("DELETE FROM pending WHERE entry_id = ? AND store = ?", (row[0], store))
            conn.execute(
                "DELETE FROM entries WHERE id = ? AND NOT EXISTS (SELECT 1 FROM pending WHERE entry_id = ?)",
                (row[0], row[0]),
            )

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE pending SET attempts = attempts + 1, next_attempt = ?, last_error = ?"
                " WHERE store = ? AND entry_id = (SELECT id FROM entries WHERE key = ? AND version = ?)",
                (next_attempt, error, store, key, version),
            )

    def newest_pending(self, key: str) -> frozenset[str]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT p.store FROM entries AS e JOIN pending AS p ON p.entry_id = e.id"
                " WHERE e.key = ? AND e.version = (SELECT MAX(version) FROM entries WHERE key = ?)",
                (key, key),
            ).fetchall()
        return frozenset(row[0] for row in rows)

    def items(self, key: str) -> list[JournalItem]:
        """Every pending item of ``key``, due or not (for status output and tests)."""
        with self._db.read() as conn:
            rows = conn.execute(f"{_SELECT_ITEMS} WHERE e.key = ? ORDER BY e.version, p.store", (key,)).fetchall()
        return [_item(row) for row in rows]

    def newest_under(self, prefix: str) -> list[JournalItem]:
        # Keys are valid UTF-8 without noncharacters, so every key under the prefix sorts below
        # prefix + U+10FFFF (SQLite compares text as UTF-8 bytes).
        query = (
            f"{_SELECT_ITEMS} WHERE e.key >= ? AND e.key < ?"
            " AND e.version = (SELECT MAX(version) FROM entries WHERE key = e.key) ORDER BY e.key, p.store"
        )
        with self._db.read() as conn:
            rows = conn.execute(query, (prefix, prefix + "\U0010ffff")).fetchall()
        return [_item(row) for row in rows]

    def backlog(self) -> dict[str, int]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT store, COUNT(*) FROM pending GROUP BY store ORDER BY store").fetchall()
        return {store: count for store, count in rows}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _item(row: Any) -> JournalItem:  # sqlite3 rows are untyped
    key, version, sha256, size, source, op, store, attempts, next_attempt, created, last_error = row
    return JournalItem(key, version, sha256, size, source, Op(op), store, attempts, next_attempt, created, last_error)

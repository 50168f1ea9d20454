"""`SqliteJournal`: the `Journal` in one SQLite file, the embedded default.

Tables: ``intents`` (writes recorded before any store was written), ``entries`` (one acknowledged
version of a key) and ``pending`` (one row per entry and store still to be applied, with its
attempts, next attempt time, last error and dead-letter flag). Every SQLite error is raised as a
`JournalError` (see `failover.replication._sqlite`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from failover.replication._sqlite import SqliteFile
from failover.replication.journal import Intent, JournalItem, Op

__all__ = ["SqliteJournal"]

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
    dead INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entry_id, store)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_by_store ON pending (store, next_attempt);
CREATE TABLE IF NOT EXISTS intents (
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    stores TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (key, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS intents_by_expiry ON intents (expires)
"""

_SELECT_ITEMS = """
SELECT e.key, e.version, e.sha256, e.size, e.source, e.op, p.store, p.attempts, p.next_attempt, e.created,
       p.last_error
FROM pending AS p JOIN entries AS e ON e.id = p.entry_id
"""

_ENTRY_ID = "(SELECT id FROM entries WHERE key = ? AND version = ?)"

_NEWEST_PENDING = (
    "SELECT p.store FROM entries AS e JOIN pending AS p ON p.entry_id = e.id"
    " WHERE e.key = ? AND e.version = (SELECT MAX(version) FROM entries WHERE key = ?)"
)
_NONE_PENDING: frozenset[str] = frozenset()
STALE_CACHE_KEYS = 65_536
"""The most keys whose `SqliteJournal.newest_pending` answer is kept between commits."""


class _Answers:
    """`newest_pending` answers, valid while the file's change token is ``token``."""

    __slots__ = ("answers", "token")

    def __init__(self, token: object) -> None:
        self.token = token
        self.answers: dict[str, frozenset[str]] = {}


class SqliteJournal:
    """The `Journal` in one SQLite file (WAL mode), shared by the threads and processes that open it.

    ``synchronous=FULL``: a commit reaches the disk before `append` returns, because the append is
    part of a write's acknowledgement; with NORMAL, a power loss could forget the last appends and so
    leave acknowledged writes on one provider only. ``wall`` gives the time the schedule is kept in:
    wall-clock seconds, because the rows outlive the process (a monotonic clock restarts at boot).
    ``busy_timeout`` is the longest a call waits for another process's lock when it passes no
    ``timeout`` of its own. A path in a missing directory, or naming a directory, is a `ConfigError`.

    Writes are group-committed (`SqliteFile.commit`): the calls of many threads that arrive while
    one commit's fsync runs share the next commit and its fsync; each returns after the commit
    that holds it, and a call alone commits at once. ``on_commit(calls, synced)`` is called after
    each commit with the number of calls it holds and whether it was synced (an fsync), for
    metrics and tests.

    One fsync a write: the append, which acknowledges it, is synced (``synchronous=FULL``); the
    intent before it is written to the WAL without an fsync of its own (``synchronous=NORMAL``),
    so it survives the process dying at once, and reaches the disk with the append's fsync, which
    covers everything written to the WAL before it. Only a crash of the machine between the store
    write and the append can lose an intent: that write was never acknowledged, and `repair`
    converges the stores it reached.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        wall: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
        on_commit: Callable[[int, bool], object] | None = None,
    ) -> None:
        self._db = SqliteFile(path, synchronous="FULL", busy_timeout=busy_timeout, schema=_SCHEMA, on_commit=on_commit)
        self._wall = wall
        self._answers = _Answers(None)
        self._answers_lock = threading.Lock()  # a miss's store, and a commit's update (not the hits)
        self._db.on_own_commit = self._committed
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _migrate(self) -> None:
        """Journals written before dead letters existed get the column (in one transaction, so two
        processes opening the same old file at once do not both add it)."""
        with self._db.write() as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(pending)")}
            if "dead" not in columns:
                conn.execute("ALTER TABLE pending ADD COLUMN dead INTEGER NOT NULL DEFAULT 0")

    @property
    def path(self) -> str:
        return str(self._db.path)

    # -- the life of a write -------------------------------------------------------------------------

    def intend(
        self,
        key: str,
        version: str,
        sha256: str | None,
        size: int,
        stores: Collection[str],
        op: Op = Op.PUT,
        *,
        lease: float,
        timeout: float | None = None,
    ) -> None:
        row = (key, version, sha256, size, Op(op).value, json.dumps(sorted(set(stores))), self._wall() + lease)
        self._db.commit(
            lambda conn: conn.execute(
                "INSERT INTO intents (key, version, sha256, size, op, stores, expires) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key, version) DO UPDATE SET expires = excluded.expires",
                row,
            ),
            timeout,
            sync=False,  # on disk with the append's fsync; see the class docstring
        )

    def abandon(self, key: str, version: str, *, timeout: float | None = None) -> None:
        self._db.commit(
            lambda conn: conn.execute("DELETE FROM intents WHERE key = ? AND version = ?", (key, version)),
            timeout,
            sync=False,  # an abandon lost with the machine leaves an intent that replication settles
        )

    def intents(self, *, expired_by: float, limit: int = 100) -> list[Intent]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT key, version, sha256, size, op, stores, expires FROM intents WHERE expires <= ?"
                " ORDER BY version LIMIT ?",
                (expired_by, limit),
            ).fetchall()
        return [
            Intent(key, version, sha256, size, Op(op), tuple(json.loads(stores)), expires)
            for key, version, sha256, size, op, stores, expires in rows
        ]

    def append(
        self,
        key: str,
        version: str,
        sha256: str | None,
        size: int,
        source: str,
        pending_stores: Collection[str],
        op: Op = Op.PUT,
        *,
        timeout: float | None = None,
    ) -> bool:
        op = Op(op)
        if op is Op.PUT and not sha256:
            raise ValueError("a put entry needs the object's sha256")
        now = self._wall()
        stores = sorted(set(pending_stores) - {source})

        def append(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM intents WHERE key = ? AND version = ?", (key, version))
            newer = conn.execute("SELECT 1 FROM entries WHERE key = ? AND version > ? LIMIT 1", (key, version))
            if newer.fetchone() is not None:
                return False
            # Older versions are superseded on every store: the new one goes wherever they were going.
            conn.execute(
                "DELETE FROM pending WHERE entry_id IN (SELECT id FROM entries WHERE key = ? AND version < ?)",
                (key, version),
            )
            conn.execute("DELETE FROM entries WHERE key = ? AND version < ?", (key, version))
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

        return self._db.commit(append, timeout, touches=key)

    # -- the life of an item -------------------------------------------------------------------------

    def pending(self, store: str | None = None, *, limit: int = 100, now: float | None = None) -> list[JournalItem]:
        due = self._wall() if now is None else now
        where, params = (
            ("WHERE NOT p.dead AND p.next_attempt <= ?", [due])
            if store is None
            else ("WHERE NOT p.dead AND p.store = ? AND p.next_attempt <= ?", [store, due])
        )
        query = f"{_SELECT_ITEMS} {where} ORDER BY e.version, p.store LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(query, (*params, limit)).fetchall()
        return [_item(row) for row in rows]

    def is_pending(self, key: str, version: str, store: str) -> bool:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT 1 FROM pending AS p JOIN entries AS e ON e.id = p.entry_id"
                " WHERE e.key = ? AND e.version = ? AND p.store = ? AND NOT p.dead",
                (key, version, store),
            ).fetchone()
        return row is not None

    def mark_done(self, key: str, version: str, store: str) -> None:
        def mark_done(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT id FROM entries WHERE key = ? AND version = ?", (key, version)).fetchone()
            if row is None:
                return  # retired by a newer version meanwhile
            conn.execute("DELETE FROM pending WHERE entry_id = ? AND store = ?", (row[0], store))
            conn.execute(
                "DELETE FROM entries WHERE id = ? AND NOT EXISTS (SELECT 1 FROM pending WHERE entry_id = ?)",
                (row[0], row[0]),
            )

        self._db.commit(mark_done, touches=key)

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        self._db.commit(
            lambda conn: conn.execute(
                "UPDATE pending SET attempts = attempts + 1, next_attempt = ?, last_error = ?"
                f" WHERE store = ? AND entry_id = {_ENTRY_ID}",
                (next_attempt, error, store, key, version),
            )
        )

    def dead_letter(self, key: str, version: str, store: str, error: str | None = None) -> None:
        self._db.commit(
            lambda conn: conn.execute(
                "UPDATE pending SET attempts = attempts + 1, dead = 1, last_error = COALESCE(?, last_error)"
                f" WHERE store = ? AND entry_id = {_ENTRY_ID}",
                (error, store, key, version),
            )
        )

    def dead_letters(self, *, limit: int = 100) -> list[JournalItem]:
        with self._db.read() as conn:
            rows = conn.execute(f"{_SELECT_ITEMS} WHERE p.dead ORDER BY e.version, p.store LIMIT ?", (limit,))
            return [_item(row) for row in rows.fetchall()]

    def revive(self, store: str | None = None) -> int:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE pending SET dead = 0, attempts = 0, next_attempt = ? WHERE dead AND (? IS NULL OR store = ?)",
                (self._wall(), store, store),
            )
            return cursor.rowcount

    # -- what readers and operators ask --------------------------------------------------------------

    def newest_pending(self, key: str) -> frozenset[str]:
        """Asked on every read, so answered from memory while nothing was committed to the file.

        The answers are kept with the file's change token (`SqliteFile.changes`: the WAL-index
        header, which every commit rewrites, whichever process or connection made it); when the
        token differs, every answer is dropped and the key is queried again. The token is taken
        before the query, so an answer is never kept under a token newer than what it saw. This
        journal's own commits (appends, marks done) drop only the keys they touched, when nothing
        else was committed in between (`SqliteFile.on_own_commit`); intents touch none.
        """
        token = self._db.changes()
        answers = self._answers
        if answers.token == token:
            known = answers.answers.get(key)
            if known is not None:
                return known
        else:
            answers = self._answers = _Answers(token)
        # Dead letters count: the store still lacks the version, whether or not anyone still tries.
        with self._db.read() as conn:
            rows = conn.execute(_NEWEST_PENDING, (key, key)).fetchall()
        stores = frozenset(row[0] for row in rows) if rows else _NONE_PENDING
        with self._answers_lock:
            # Kept only if no commit of this journal moved the answers on meanwhile (`_committed`).
            if answers.token == token and len(answers.answers) < STALE_CACHE_KEYS:
                answers.answers[key] = stores
        return stores

    def _committed(self, before: object, after: object, touched: frozenset[str]) -> None:
        """This journal's own commit, alone, took the file from ``before`` to ``after``: the answers
        kept at ``before`` stay true at ``after`` but for the keys it touched."""
        with self._answers_lock:
            answers = self._answers
            if answers.token != before:
                return
            for key in touched:
                answers.answers.pop(key, None)
            answers.token = after

    def items(self, key: str) -> list[JournalItem]:
        """Every pending item of ``key``, due or not, dead letters included (for status output and tests)."""
        with self._db.read() as conn:
            rows = conn.execute(f"{_SELECT_ITEMS} WHERE e.key = ? ORDER BY e.version, p.store", (key,)).fetchall()
        return [_item(row) for row in rows]

    def newest_under(self, prefix: str) -> list[JournalItem]:
        # Keys are valid UTF-8 without noncharacters, so every key under the prefix sorts below
        # prefix + U+10FFFF (SQLite compares text as UTF-8 bytes). Dead letters count: their store
        # still lacks the version.
        query = (
            f"{_SELECT_ITEMS} WHERE e.key >= ? AND e.key < ?"
            " AND e.version = (SELECT MAX(version) FROM entries WHERE key = e.key) ORDER BY e.key, p.store"
        )
        with self._db.read() as conn:
            rows = conn.execute(query, (prefix, prefix + "\U0010ffff")).fetchall()
        return [_item(row) for row in rows]

    def backlog(self) -> dict[str, int]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT store, COUNT(*) FROM pending WHERE NOT dead GROUP BY store ORDER BY store"
            ).fetchall()
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

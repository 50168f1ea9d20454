"""The dedup window: exactly-once processing on top of at-least-once delivery.

Every message carries a ``failover_id``. A consumer (or `FailoverQueue.receive`) asks `seen(id)`
before handing a message on: the first call records the id and answers False, every later call
within the TTL answers True, so a message delivered twice (redelivered, or sent to two providers
during an ambiguous failover) is processed once. The record is durable and shared by every process
that opens the same file.

An id recorded for a message that was then not processed (the consumer failed, the message was
nacked) must be released with `forget`, or its redelivery would be dropped as a duplicate.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Protocol

from failover.replication._sqlite import SqliteFile

__all__ = ["DedupWindow", "SqliteDedupWindow"]


class DedupWindow(Protocol):
    def seen(self, failover_id: str) -> bool:
        """Record ``failover_id``; whether it was already recorded within the TTL. Atomic."""
        ...

    def forget(self, failover_id: str) -> None:
        """Release ``failover_id``, so its next delivery is processed."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    id TEXT PRIMARY KEY,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_expiry ON seen (expires)
"""


class SqliteDedupWindow:
    """A `DedupWindow` in one SQLite file (WAL mode), shared by threads and processes.

    ``ttl`` seconds: how long an id is remembered, from its first sighting; make it longer than the
    longest time a duplicate can arrive (the queues' retention, or at least their visibility
    timeout plus the failover time). ``wall`` gives seconds since the epoch: the records outlive
    the process. Expired ids are purged lazily, at most once every ``ttl / 4``.

    ``synchronous=NORMAL``: WAL survives the death of the process, and a power loss forgets at most
    the last few ids, which lets a duplicate through (at-least-once still holds) rather than losing
    a message; FULL would cost an fsync for every message received.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        ttl: float,
        *,
        wall: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl is a number of seconds > 0, not {ttl!r}")
        self.ttl = ttl
        self._wall = wall
        self._db = SqliteFile(
            path, synchronous="NORMAL", busy_timeout=busy_timeout, schema=_SCHEMA, field="dedup window"
        )
        self._next_purge = 0.0

    def seen(self, failover_id: str) -> bool:
        if not isinstance(failover_id, str) or not failover_id:
            raise ValueError(f"a failover_id is a non-empty str, not {failover_id!r}")
        now = self._wall()
        with self._db.write() as conn:
            self._purge(conn, now)
            # One statement checks and records: inserted (or an expired record renewed) means new.
            cursor = conn.execute(
                "INSERT INTO seen (id, expires) VALUES (?, ?)"
                " ON CONFLICT (id) DO UPDATE SET expires = excluded.expires WHERE seen.expires <= ?",
                (failover_id, now + self.ttl, now),
            )
            return cursor.rowcount == 0

    def forget(self, failover_id: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM seen WHERE id = ?", (failover_id,))

    def __len__(self) -> int:
        """Ids recorded and not yet purged (expired ones may still count until the next purge)."""
        with self._db.read() as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM seen").fetchone()
        return int(count)

    def _purge(self, conn: sqlite3.Connection, now: float) -> None:
        if now < self._next_purge:
            return
        self._next_purge = now + self.ttl / 4
        conn.execute("DELETE FROM seen WHERE expires <= ?", (now,))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteDedupWindow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

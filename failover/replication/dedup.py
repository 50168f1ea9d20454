"""The dedup window: exactly-once processing on top of at-least-once delivery.

Every message carries a ``failover_id``. A consumer (or `FailoverQueue.receive`) asks `seen(id)`
before handing a message on: the first call records the id and answers False, every later call
within the TTL answers True, so a message delivered twice (redelivered, or sent to two providers
during an ambiguous failover) is processed once. The record is durable and shared by every process
that opens the same file.

An id recorded for a message that was then not processed (the consumer failed, the message was
nacked) must be released with `forget`, or its redelivery would be dropped as a duplicate.

`admit` (`AdmitsCopies`) decides on a delivered copy with a lease: the first copy of an id is handed
on and held in flight until ``now + lease``; the same copy delivered again meanwhile (a queue that
hands one message to two consumers at once) is held back, and handed on once the lease has run out
(its first consumer died before acking); any other copy of the id is a duplicate to drop. `settle`
ends the lease for good (the message was processed): every later copy is dropped.
"""

from __future__ import annotations

import enum
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from failover.replication._sqlite import SqliteFile

__all__ = ["Admission", "AdmitsCopies", "DedupWindow", "SqliteDedupWindow", "Verdict"]


class DedupWindow(Protocol):
    def seen(self, failover_id: str) -> bool:
        """Record ``failover_id``; whether it was already recorded within the TTL. Atomic."""
        ...

    def forget(self, failover_id: str) -> None:
        """Release ``failover_id``, so its next delivery is processed."""
        ...

    def close(self) -> None: ...


class Verdict(enum.Enum):
    HAND_ON = "hand on"  # the copy to process
    DROP = "drop"  # a duplicate of a message admitted before: ack it, do not hand it on
    HOLD = "hold"  # this copy is in flight in another consumer: neither hand it on nor ack it


@dataclass(frozen=True, slots=True)
class Admission:
    verdict: Verdict
    lease_left: float = 0.0  # with HOLD: seconds until the holder's lease runs out


@runtime_checkable
class AdmitsCopies(Protocol):
    """A window that decides on a delivered copy atomically, under a lease (see the module)."""

    def admit(self, copy: str, failover_id: str, lease: float) -> Admission:
        """``copy`` names one delivered copy (its queue and the provider's message id) of ``failover_id``."""
        ...

    def settle(self, failover_id: str) -> None:
        """The admitted copy was processed: every later copy of ``failover_id`` is dropped."""
        ...


def check_admit(copy: str, failover_id: str, lease: float) -> None:
    for name in (copy, failover_id):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a failover_id is a non-empty str, not {name!r}")
    if isinstance(lease, bool) or not isinstance(lease, int | float) or not lease > 0 or lease == float("inf"):
        raise ValueError(f"a lease is a finite number of seconds > 0, not {lease!r}")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    id TEXT PRIMARY KEY,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_expiry ON seen (expires);
CREATE TABLE IF NOT EXISTS admitted (
    id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease REAL,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS admitted_by_expiry ON admitted (expires)
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

    def admit(self, copy: str, failover_id: str, lease: float) -> Admission:
        """`AdmitsCopies.admit`, in one write transaction (two processes on the file take turns)."""
        check_admit(copy, failover_id, lease)
        now = self._wall()
        with self._db.write() as conn:
            self._purge(conn, now)
            row = conn.execute(
                "SELECT holder, lease FROM admitted WHERE id = ? AND expires > ?", (failover_id, now)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT OR REPLACE INTO admitted (id, holder, lease, expires) VALUES (?, ?, ?, ?)",
                    (failover_id, copy, now + lease, now + self.ttl),
                )
                return Admission(Verdict.HAND_ON)
            holder, until = row
            if holder != copy or until is None:
                return Admission(Verdict.DROP)  # another copy, or this one processed already
            if until > now:
                return Admission(Verdict.HOLD, until - now)
            conn.execute("UPDATE admitted SET lease = ? WHERE id = ?", (now + lease, failover_id))
            return Admission(Verdict.HAND_ON)

    def settle(self, failover_id: str) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE admitted SET lease = NULL WHERE id = ?", (failover_id,))

    def forget(self, failover_id: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM seen WHERE id = ?", (failover_id,))
            conn.execute("DELETE FROM admitted WHERE id = ?", (failover_id,))

    def __len__(self) -> int:
        """Ids recorded and not yet purged (expired ones may still count until the next purge)."""
        with self._db.read() as conn:
            (count,) = conn.execute("SELECT (SELECT COUNT(*) FROM seen) + (SELECT COUNT(*) FROM admitted)").fetchone()
        return int(count)

    def _purge(self, conn: sqlite3.Connection, now: float) -> None:
        if now < self._next_purge:
            return
        self._next_purge = now + self.ttl / 4
        conn.execute("DELETE FROM seen WHERE expires <= ?", (now,))
        conn.execute("DELETE FROM admitted WHERE expires <= ?", (now,))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteDedupWindow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

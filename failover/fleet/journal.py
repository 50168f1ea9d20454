"""`PostgresJournal`: one journal for every writer and replicator of a fleet.

The `Journal` contract of `SqliteJournal`, on the fleet's schema, plus leases so that replicators in
any number of processes share the work:

- `append` is one call of a database function (one round trip, one transaction) that holds an
  advisory lock on the key, so writers of one key in different processes take turns: the newest
  version stays the only one pending, and an older one arriving late is refused.
- `pending` *takes* the due items it returns: in one statement it picks rows no other replicator
  holds (``FOR UPDATE SKIP LOCKED``, so two replicators listing at once never get the same row) and
  stamps them with this journal's owner id and a lease of ``lease`` seconds on the ``wall`` clock.
  Items another process holds are skipped until its lease runs out: a process that died mid-way
  leaves its items to the others after one lease.
- `is_pending`, asked right before an item is applied, renews the lease (or takes an expired one) and
  answers False when another replicator holds it, so an item is copied once unless a lease runs out
  mid-copy (then twice, which `copy_version` makes harmless: it never puts an older version over a
  newer one). `mark_done` and `reschedule` end the lease.
- `newest_pending` reads the shared table: a read in any process skips the stores on which another
  process's acknowledged newest version is still pending.
- `intend` takes the key's turn in the fleet: while another live process has an intent of the key
  (its write under way), it waits, at most its ``timeout``; a version older than one the fleet
  journaled or intended is refused (`JournalError`): written after the newer one, it would land over
  it on a store (the stores' last writer wins). A process's intent holds the key only while its
  sessions are connected (``application_name``), so a killed process holds no key.
- `intend` and `append` commit with ``synchronous_commit`` on (durable when they return), in one
  round trip each; `append` waits at most its ``timeout`` for the key's turn. Every database error is
  a `JournalError` (`DatabaseUnavailable` when the database did not answer).

The wall clocks of the fleet's machines should agree to well within a lease (NTP does).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

from failover.errors import JournalError
from failover.fleet import _sql
from failover.fleet._db import FleetDatabase
from failover.fleet.config import FleetConfig
from failover.fleet.migrations import migrate
from failover.replication.journal import Intent, JournalItem, Op

__all__ = ["PostgresJournal", "owner_id"]

_TURN_POLL = 0.01
"""Seconds between the first looks at a key another process is writing (doubling, to 8 times)."""
_LOCK_SHARE = 0.75
"""The part of an append's deadline it may wait for the key's turn; the rest is for the round trip."""


def owner_id() -> str:
    """A name for one journal of one process, unique across the fleet (host, pid, random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PostgresJournal:
    """A `Journal` in the fleet's database; thread-safe. ``lease`` defaults to the config's.

    The database is shared: `close` closes it only when the journal opened it (`open`).
    """

    def __init__(
        self,
        db: FleetDatabase,
        *,
        wall: Callable[[], float] = time.time,
        lease: float | None = None,
        owner: str | None = None,
        owns_db: bool = False,
    ) -> None:
        self._db = db
        self._wall = wall
        self.lease = db.config.lease if lease is None else lease
        self.owner = owner or owner_id()
        self._owns_db = owns_db

    @classmethod
    def open(cls, config: FleetConfig, *, wall: Callable[[], float] = time.time) -> PostgresJournal:
        """A journal on a database of its own, its schema migrated."""
        db = FleetDatabase(config)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(db, wall=wall, owns_db=True)

    @property
    def db(self) -> FleetDatabase:
        return self._db

    @property
    def wall(self) -> Callable[[], float]:
        """The clock of leases and schedules (wall-clock seconds)."""
        return self._wall

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
        self._intend(key, version, sha256, size, stores, op, lease=lease, timeout=timeout, turn=True)

    def record_intent(self, intent: Intent, *, timeout: float | None = None) -> None:
        """Record ``intent`` as it is, taking no turn on its key (a spooled intent moved in)."""
        lease = intent.expires - self._wall()
        self._intend(intent.key, intent.version, intent.sha256, intent.size, intent.stores, intent.op, lease=lease,
                     timeout=timeout, turn=False)  # fmt: skip

    def _intend(
        self,
        key: str,
        version: str,
        sha256: str | None,
        size: int,
        stores: Collection[str],
        op: Op,
        *,
        lease: float,
        timeout: float | None,
        turn: bool,
    ) -> None:
        """Record the intent; with ``turn``, wait (at most ``timeout``) for another live process's
        intent of the key to be committed or abandoned, and refuse a version older than the key's."""
        bound = self._bound(timeout)
        deadline = time.monotonic() + bound
        pause = _TURN_POLL
        while True:
            now = self._wall()
            params = {
                "key": key,
                "version": version,
                "sha256": sha256,
                "size": size,
                "op": Op(op).value,
                "stores": sorted(set(stores)),
                "expires": now + lease,
                "owner": self._db.session,
                "now": now,
                "turn": turn,
            }
            with self._db.connection(max(0.001, deadline - time.monotonic())) as conn:
                row = conn.execute(_sql.INTEND, params).fetchone()
            answer = row[0] if row else "ok"
            if answer == "ok":
                return
            if answer == "newer":
                raise JournalError(
                    f"a newer version of {key!r} than {version} is journaled or being written by another process",
                    operation="intend",
                )
            left = deadline - time.monotonic()
            if left <= 0.005:
                raise JournalError(
                    f"another process of the fleet was still writing {key!r} after {bound:.3g} s", operation="intend"
                )
            time.sleep(min(pause, left - 0.002))
            pause = min(pause * 2, _TURN_POLL * 8)

    def abandon(self, key: str, version: str, *, timeout: float | None = None) -> None:
        with self._db.connection(self._bound(timeout)) as conn:
            conn.execute(_sql.ABANDON, {"key": key, "version": version})

    def intents(self, *, expired_by: float, limit: int = 100) -> list[Intent]:
        with self._db.connection() as conn:
            rows = conn.execute(_sql.EXPIRED_INTENTS, {"expired_by": expired_by, "limit": limit}).fetchall()
        return [
            Intent(key, version, sha256, int(size), Op(op), tuple(stores), expires)
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
        stores = sorted(set(pending_stores) - {source})
        bound = self._bound(timeout)
        entry = {"key": key, "version": version, "sha256": sha256, "size": size, "source": source, "op": op.value}
        # The server gives up the key's turn first, so that a busy key is not taken for a hung server.
        lock_ms = max(1, round(bound * 1000 * _LOCK_SHARE))
        params = {**entry, "stores": stores, "now": self._wall(), "lock_ms": lock_ms}
        with self._db.connection(bound) as conn:
            row = conn.execute(_sql.APPEND, params).fetchone()
        return bool(row and row[0])

    def _bound(self, timeout: float | None) -> float:
        """A call's deadline: ``timeout``, never longer than the config's ``call_timeout``."""
        limit = self._db.config.call_timeout
        return limit if timeout is None else max(0.001, min(timeout, limit))

    # -- the life of an item -------------------------------------------------------------------------

    def pending(self, store: str | None = None, *, limit: int = 100, now: float | None = None) -> list[JournalItem]:
        wall = self._wall()
        due = wall if now is None else now
        params = {
            "now": due,
            "wall": wall,
            "store": store,
            "owner": self.owner,
            "until": wall + self.lease,
            "limit": limit,
        }
        with self._db.connection() as conn:
            rows = conn.execute(_sql.CLAIM_DUE, params).fetchall()
        return sorted((_item(row) for row in rows), key=lambda item: (item.version, item.store))

    def is_pending(self, key: str, version: str, store: str) -> bool:
        now = self._wall()
        params = {"key": key, "version": version, "store": store, "owner": self.owner, "now": now}
        with self._db.connection() as conn:
            row = conn.execute(_sql.HOLD_ITEM, {**params, "until": now + self.lease}).fetchone()
        return row is not None

    def mark_done(self, key: str, version: str, store: str) -> None:
        with self._db.connection() as conn:
            conn.execute(_sql.MARK_DONE, {"key": key, "version": version, "store": store})

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        params = {"key": key, "version": version, "store": store, "next_attempt": next_attempt, "error": error}
        with self._db.connection() as conn:
            conn.execute(_sql.RESCHEDULE, params)

    def dead_letter(self, key: str, version: str, store: str, error: str | None = None) -> None:
        params = {"key": key, "version": version, "store": store, "error": error}
        with self._db.connection() as conn:
            conn.execute(_sql.DEAD_LETTER, params)

    def dead_letters(self, *, limit: int = 100) -> list[JournalItem]:
        with self._db.connection() as conn:
            rows = conn.execute(_sql.DEAD_LETTERS, {"limit": limit}).fetchall()
        return [_item(row) for row in rows]

    def revive(self, store: str | None = None) -> int:
        with self._db.connection() as conn:
            cursor = conn.execute(_sql.REVIVE, {"now": self._wall(), "store": store})
        return cursor.rowcount

    # -- what readers and operators ask --------------------------------------------------------------

    def newest_pending(self, key: str) -> frozenset[str]:
        with self._db.connection() as conn:
            rows = conn.execute(_sql.NEWEST_PENDING, {"key": key}).fetchall()
        return frozenset(row[0] for row in rows)

    def all_newest_pending(self, limit: int) -> dict[str, set[str]]:
        """Per key, the stores its newest version is pending on (at most ``limit`` items)."""
        with self._db.connection() as conn:
            rows = conn.execute(_sql.ALL_NEWEST_PENDING, {"limit": limit}).fetchall()
        found: dict[str, set[str]] = {}
        for key, store in rows:
            found.setdefault(key, set()).add(store)
        return found

    def items(self, key: str) -> list[JournalItem]:
        """Every pending item of ``key``, due or not, held by anyone (for status output and tests)."""
        with self._db.connection() as conn:
            rows = conn.execute(_sql.ITEMS_OF_KEY, {"key": key}).fetchall()
        return [_item(row) for row in rows]

    def newest_under(self, prefix: str) -> list[JournalItem]:
        with self._db.connection() as conn:
            rows = conn.execute(_sql.NEWEST_UNDER, {"low": prefix, "high": prefix + "\U0010ffff"}).fetchall()
        return [_item(row) for row in rows]

    def backlog(self) -> dict[str, int]:
        with self._db.connection() as conn:
            rows = conn.execute(_sql.BACKLOG).fetchall()
        return {store: int(count) for store, count in rows}

    def close(self) -> None:
        if self._owns_db:
            self._owns_db = False
            self._db.close()

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _item(row: Any) -> JournalItem:
    key, version, sha256, size, source, op, store, attempts, next_attempt, created, last_error = row
    return JournalItem(
        key, version, sha256, int(size), source, Op(op), store, attempts, next_attempt, created, last_error
    )

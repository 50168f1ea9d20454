"""`PostgresDedupWindow`: one dedup window for every consumer of a fleet.

The same contract as `SqliteDedupWindow`, on a table of the fleet's schema: one ``INSERT .. ON
CONFLICT`` checks and records an id (a row inserted, or an expired one renewed, means a first
sighting), so two consumers in different processes racing on one message hand it on once. `admit`
decides on a delivered copy under an in-flight lease in one statement (`AdmitsCopies`): a call the
client gave up on (a paused server runs it when it resumes) then took the lease or did not, and the
copy it was about comes back after its visibility and is handed on once that lease has run out.

With a ``fallback`` window (the process's own `SqliteDedupWindow`), a database that does not answer
does not stop consumers: ids are checked and recorded locally meanwhile, so a duplicate that reaches
two processes during the outage may be handed on twice (at-least-once still holds).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable

from failover.fleet import _sql
from failover.fleet._db import DatabaseUnavailable, FleetDatabase
from failover.fleet.config import FleetConfig
from failover.fleet.migrations import migrate
from failover.replication.dedup import Admission, AdmitsCopies, DedupWindow, Verdict, check_admit

__all__ = ["PostgresDedupWindow"]


class PostgresDedupWindow:
    """A `DedupWindow` in the fleet's database. ``ttl`` and ``wall`` as for `SqliteDedupWindow`.

    The database is shared: `close` closes it only when the window opened it (`open`).
    """

    def __init__(
        self,
        db: FleetDatabase,
        ttl: float,
        *,
        wall: Callable[[], float] = time.time,
        owns_db: bool = False,
        fallback: DedupWindow | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl is a number of seconds > 0, not {ttl!r}")
        self.ttl = ttl
        self._db = db
        self._wall = wall
        self._owns_db = owns_db
        self._fallback = fallback
        self._next_purge = 0.0

    @classmethod
    def open(cls, config: FleetConfig, ttl: float, *, wall: Callable[[], float] = time.time) -> PostgresDedupWindow:
        """A window on a database of its own, its schema migrated."""
        db = FleetDatabase(config)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(db, ttl, wall=wall, owns_db=True)

    def seen(self, failover_id: str) -> bool:
        if not isinstance(failover_id, str) or not failover_id:
            raise ValueError(f"a failover_id is a non-empty str, not {failover_id!r}")
        if self._fallback is not None:
            try:
                return self._seen(failover_id)
            except DatabaseUnavailable:
                return self._fallback.seen(failover_id)
        return self._seen(failover_id)

    def _seen(self, failover_id: str) -> bool:
        now = self._wall()
        with self._db.connection() as conn:
            if now >= self._next_purge:
                self._next_purge = now + self.ttl / 4
                conn.execute(_sql.PURGE_SEEN, {"now": now})
            cursor = conn.execute(_sql.SEEN, {"id": failover_id, "expires": now + self.ttl, "now": now})
            return cursor.rowcount == 0

    def admit(self, copy: str, failover_id: str, lease: float) -> Admission:
        """`AdmitsCopies.admit` in one statement. With the fallback, its own (local) admission."""
        check_admit(copy, failover_id, lease)
        try:
            return self._admit(copy, failover_id, lease)
        except DatabaseUnavailable:
            if not isinstance(self._fallback, AdmitsCopies):
                raise
        return self._fallback.admit(copy, failover_id, lease)

    def _admit(self, copy: str, failover_id: str, lease: float) -> Admission:
        now = self._wall()
        token = uuid.uuid4().hex
        params = {
            "copy": copy,
            "id": failover_id,
            "until": now + lease,
            "token": token,
            "expires": now + self.ttl,
            "now": now,
        }
        with self._db.connection() as conn:
            if now >= self._next_purge:
                self._next_purge = now + self.ttl / 4
                conn.execute(_sql.PURGE_ADMITTED, {"now": now})
            row = conn.execute(_sql.ADMIT_LEASED, params).fetchone()
        if row is None:  # pragma: no cover - an upsert always returns its row
            raise DatabaseUnavailable("the admission returned no row")
        took, holder, until = row
        if took:
            return Admission(Verdict.HAND_ON)
        if holder and until is not None:
            return Admission(Verdict.HOLD, max(float(until) - now, 0.0))
        return Admission(Verdict.DROP)

    def settle(self, failover_id: str) -> None:
        if self._fallback is not None and isinstance(self._fallback, AdmitsCopies):
            self._fallback.settle(failover_id)
            with contextlib.suppress(DatabaseUnavailable):
                self._settle(failover_id)
            return
        self._settle(failover_id)

    def _settle(self, failover_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(_sql.SETTLE, {"id": failover_id})

    def forget(self, failover_id: str) -> None:
        if self._fallback is not None:
            self._fallback.forget(failover_id)
            with contextlib.suppress(DatabaseUnavailable):
                self._forget(failover_id)
            return
        self._forget(failover_id)

    def _forget(self, failover_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(_sql.FORGET, {"id": failover_id})
            conn.execute(_sql.FORGET_ADMITTED, {"id": failover_id})

    def __len__(self) -> int:
        """Ids recorded and not yet purged (expired ones may still count until the next purge)."""
        with self._db.connection() as conn:
            row = conn.execute(_sql.COUNT_SEEN).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
        if self._owns_db:
            self._owns_db = False
            self._db.close()

    def __enter__(self) -> PostgresDedupWindow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

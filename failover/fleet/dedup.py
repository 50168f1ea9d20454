"""`PostgresDedupWindow`: one dedup window for every consumer of a fleet.

The same contract as `SqliteDedupWindow`, on a table of the fleet's schema: one ``INSERT .. ON
CONFLICT`` checks and records an id (a row inserted, or an expired one renewed, means a first
sighting), so two consumers in different processes racing on one message hand it on once. `admit`
decides on a delivered copy in one statement (`failover.queue._dedup.AdmitsCopies`): a call the
client gave up on (a paused server runs it when it resumes) then leaves both records or neither.

With a ``fallback`` window (the process's own `SqliteDedupWindow`), a database that does not answer
does not stop consumers: ids are checked and recorded locally meanwhile, so a duplicate that reaches
two processes during the outage may be handed on twice (at-least-once still holds).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from failover.fleet import _sql
from failover.fleet._db import DatabaseUnavailable, FleetDatabase
from failover.fleet.config import FleetConfig
from failover.fleet.migrations import migrate
from failover.replication.dedup import DedupWindow

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

    def admit(self, copy: str, failover_id: str) -> bool:
        """Whether a delivered ``copy`` of ``failover_id`` is the one to hand on (`AdmitsCopies`): a
        redelivery of the copy admitted before, or the first copy of the id; one statement, so a call
        whose answer was lost records both or neither. With the fallback, two local calls."""
        for name in (copy, failover_id):
            if not isinstance(name, str) or not name:
                raise ValueError(f"a failover_id is a non-empty str, not {name!r}")
        try:
            return self._admit(copy, failover_id)
        except DatabaseUnavailable:
            if self._fallback is None:
                raise
        if self._fallback.seen(copy):
            return True
        if not self._fallback.seen(failover_id):
            return True
        self._fallback.forget(copy)
        return False

    def _admit(self, copy: str, failover_id: str) -> bool:
        now = self._wall()
        params = {"copy": copy, "id": failover_id, "expires": now + self.ttl, "now": now}
        with self._db.connection() as conn:
            row = conn.execute(_sql.ADMIT, params).fetchone()
        return bool(row and row[0])

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

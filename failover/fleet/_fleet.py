"""`Fleet`: the shared parts of one process of a fleet, opened from one `FleetConfig`.

::

    with Fleet(FleetConfig(dsn="postgresql://failover@db/app", schema_name="orders")) as fleet:
        storage = FailoverStorage(stores, journal=fleet.journal)
        queue = FailoverQueue(queues, dedup=fleet.dedup_window(ttl=3600))
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

from failover.fleet.config import FleetConfig
from failover.fleet.dedup import PostgresDedupWindow
from failover.fleet.health import PostgresHealthStore
from failover.fleet.spool import SpoolingJournal
from failover.replication.dedup import SqliteDedupWindow
from failover.replication.state import default_state_file

__all__ = ["Fleet"]


class Fleet:
    """The journal (spooling to local SQLite while the database is away), dedup windows and the health
    store of this process, on one connection pool; `close` it at the end (after the storage and
    queues that use them). The spool is ``config.spool``, else a file of ``state_dir`` (default
    `failover.replication.state.state_dir`) named after the schema."""

    def __init__(
        self,
        config: FleetConfig,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._local = tempfile.mkdtemp(prefix="failover-fleet-")
        # The spool outlives the process: what it spooled before it died, its successor moves.
        spool = config.spool or default_state_file("spool", [f"fleet:{config.schema_name}"], directory=state_dir)
        self.journal = SpoolingJournal.open(config, spool=spool, wall=wall)
        self.db = self.journal.primary.db
        self._wall = wall
        self.health = PostgresHealthStore(self.db, monotonic=monotonic, wall=wall).start()
        self._windows: list[PostgresDedupWindow] = []

    def dedup_window(self, ttl: float, *, local_when_down: bool = False) -> PostgresDedupWindow:
        """A dedup window shared by the fleet.

        While the database is away, `seen` raises `DatabaseUnavailable`: `FailoverQueue.receive` then
        hands nothing on, and the messages it received come back after their visibility timeout, to
        be checked when the database answers (exactly-once processing holds; consumers wait). With
        ``local_when_down``, ids are checked per process meanwhile: consumers go on, and a message
        re-sent to two providers may then be handed on twice.
        """
        fallback = None
        if local_when_down:
            fallback = SqliteDedupWindow(os.path.join(self._local, f"dedup-{len(self._windows)}.sqlite"), ttl)
        window = PostgresDedupWindow(self.db, ttl, wall=self._wall, fallback=fallback)
        self._windows.append(window)
        return window

    @property
    def name(self) -> str:
        return f"fleet:{self.config.schema_name}"

    def close(self) -> None:
        self.health.close()
        for window in self._windows:
            window.close()
        self.journal.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

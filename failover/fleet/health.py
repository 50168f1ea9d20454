"""`PostgresHealthStore`: one view of the endpoints' health for a whole fleet, pushed, not polled.

Each process keeps the records in a local dictionary, so `get` on the call path is one look-up and a
process's own breaker works whatever the database does. `set` updates that dictionary at once and
hands the record to a publisher thread, which writes it to the ``health`` table and sends a
``NOTIFY`` in the same transaction. A listener thread in every process ``LISTEN``s on the fleet's
channel and applies what others publish, so one process opening a circuit stops the fleet sending to
that endpoint within milliseconds. On (re)connecting, the listener loads the table, so a process
that starts, or comes back from a database outage, learns the fleet's view.

When the database does not answer, records stay local (health falls back to per process) and the
latest unpublished record of each endpoint is published when it returns.

A record from another process carries that process's clock: ``since`` is replaced on arrival by
this process's ``monotonic`` reading (the trackers' clock), which the prober's schedule counts from.

`fleet_probe` wraps a `Probe` so that one process of the fleet probes a DOWN endpoint, under a lease:
the others' probes are deferred, and the prober's answer reaches them as a state change. An engine
built on the store wraps its probes so (`shared_probe`, the engine's `SharesProbes`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from failover.errors import JournalError, ProviderUnavailable
from failover.fleet import _sql
from failover.fleet._db import DatabaseUnavailable, FleetDatabase, connect_kwargs
from failover.fleet.journal import owner_id
from failover.health.probes import Probe
from failover.health.store import HealthRecord, HealthState

__all__ = ["PostgresHealthStore", "ProbeDeferred", "fleet_probe"]

log = logging.getLogger("failover.fleet")

_REASON_LIMIT = 1000  # a NOTIFY payload holds at most 8000 bytes
_LISTEN_POLL = 0.25  # how often the listener looks at its stop flag


class PostgresHealthStore:
    """A `HealthStore` shared by the processes of a fleet; `start` it, `close` it at the end.

    ``monotonic`` must be the clock of the trackers that use the store.
    """

    def __init__(
        self,
        db: FleetDatabase,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        self._db = db
        self._monotonic = monotonic
        self._wall = wall
        self.owner = owner or owner_id()
        self.channel = f"failover_health_{db.schema}"
        self._records: dict[str, HealthRecord] = {}
        self._lock = threading.Lock()
        self._unpublished: dict[str, HealthRecord] = {}
        self._publish = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._threads: list[threading.Thread] = []
        self.received = 0  # records applied from other processes (for tests and status)

    # -- the HealthStore protocol -----------------------------------------------------------------------

    def get(self, endpoint: str) -> HealthRecord | None:
        return self._records.get(endpoint)

    def set(self, endpoint: str, record: HealthRecord) -> None:
        with self._lock:
            self._records[endpoint] = record
            self._unpublished[endpoint] = record
            self._publish.notify()

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> PostgresHealthStore:
        """Start the publisher and the listener threads; idempotent."""
        if not self._threads:
            for target, name in ((self._run_publisher, "publisher"), (self._run_listener, "listener")):
                thread = threading.Thread(target=target, name=f"failover-health-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Whether the listener is listening (tests wait for it before they publish)."""
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self) -> None:
        """Publish what is still unpublished (for at most one call timeout), then stop the threads."""
        deadline = time.monotonic() + self._db.config.call_timeout
        with self._lock:
            while self._unpublished and self._threads and self._db.available and time.monotonic() < deadline:
                self._publish.wait(0.01)
        self._stopping.set()
        with self._lock:
            self._publish.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> PostgresHealthStore:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- publishing ---------------------------------------------------------------------------------------

    def _run_publisher(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                while not self._unpublished and not self._stopping.is_set():
                    self._publish.wait()
                batch = dict(self._unpublished)
            if self._stopping.is_set():
                return
            try:
                self._write(batch)
            except DatabaseUnavailable:
                self._stopping.wait(self._db.config.retry_after)
                continue
            except Exception:
                log.exception("publishing health records failed")
                self._stopping.wait(self._db.config.retry_after)
                continue
            with self._lock:
                for endpoint, record in batch.items():
                    if self._unpublished.get(endpoint) is record:
                        del self._unpublished[endpoint]

    def _write(self, batch: dict[str, HealthRecord]) -> None:
        with self._db.connection() as conn, conn.transaction():
            for endpoint, record in batch.items():
                reason = record.reason[:_REASON_LIMIT]
                row = {"endpoint": endpoint, "state": record.state.value, "reason": reason, "opened": record.opened}
                conn.execute(_sql.UPSERT_HEALTH, {**row, "since": self._wall(), "writer": self.owner})
                conn.execute(_sql.NOTIFY, {"channel": self.channel, "payload": json.dumps({**row, "w": self.owner})})

    # -- listening ----------------------------------------------------------------------------------------

    def _run_listener(self) -> None:
        import psycopg
        from psycopg import sql

        config = self._db.config
        while not self._stopping.is_set():
            try:
                with psycopg.connect(config.dsn, **connect_kwargs(config, self._db.session)) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    for endpoint, state, reason, opened, writer in conn.execute(_sql.ALL_HEALTH).fetchall():
                        self._apply(endpoint, state, reason, opened, writer, catching_up=True)
                    self._connected.set()
                    while not self._stopping.is_set():
                        for notice in conn.notifies(timeout=_LISTEN_POLL):
                            self._receive(notice.payload)
            except psycopg.Error as exc:
                log.info("health listener lost the fleet database: %s", exc)
            finally:
                self._connected.clear()
            self._stopping.wait(config.retry_after)

    def _receive(self, payload: str) -> None:
        try:
            message: dict[str, Any] = json.loads(payload)
            self._apply(message["endpoint"], message["state"], message["reason"], message["opened"], message["w"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed health notification: %.200s", payload)

    def _apply(
        self, endpoint: str, state: str, reason: str, opened: int, writer: str, *, catching_up: bool = False
    ) -> None:
        if writer == self.owner:
            return  # our own, already applied
        with self._lock:
            if catching_up and endpoint in self._unpublished:
                return  # decided here while the database was away: ours goes out next
            current = self._records.get(endpoint)
            new_state = HealthState(state)
            if current is not None and current.state is new_state:
                return
            self._records[endpoint] = HealthRecord(new_state, f"fleet: {reason}", self._monotonic(), int(opened))
            self.received += 1

    def shared_probe(self, endpoint: str, probe: Probe) -> Probe:
        """``probe`` run for the fleet under a lease (`fleet_probe`): the engine's prober uses it."""
        return fleet_probe(self, endpoint, probe)

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={record.state.value}" for name, record in sorted(self._records.items()))
        return f"PostgresHealthStore({self.channel}, {states})"


class ProbeDeferred(ProviderUnavailable):
    """Another process of the fleet holds the probe lease of this endpoint: it probes, this one waits."""


def fleet_probe(store: PostgresHealthStore, endpoint: str, probe: Probe, *, lease: float = 10.0) -> Probe:
    """``probe``, run only by the process that holds the fleet's probe lease of ``endpoint``.

    The others raise `ProbeDeferred` (their prober backs off, and the holder's answer reaches them as
    a state change). Without the database (or when it fails the call), every process probes for itself.
    """

    def probe_for_the_fleet(timeout: float) -> object:
        now = store._wall()
        params = {"endpoint": endpoint, "owner": store.owner, "now": now, "until": now + lease}
        try:
            with store._db.connection() as conn:
                held = conn.execute(_sql.TAKE_PROBE_LEASE, params).fetchone() is not None
        except JournalError:
            held = True  # per process while the database is away (or refuses the lease)
        if not held:
            raise ProbeDeferred("another process probes this endpoint", provider=endpoint, operation="probe")
        return probe(timeout)

    return probe_for_the_fleet

"""The fleet's connection to PostgreSQL: a pool, a deadline on every call, and a rest after a failure.

Every call runs through `FleetDatabase.connection`, which bounds it by ``call_timeout`` from the client
side: a hung server (paused, or a network that drops packets) never answers a server-side
``statement_timeout``, so a watchdog thread shuts the socket of a call that overruns, and psycopg
then fails it. Any failure to reach the database is raised as `DatabaseUnavailable`, and the database
rests for ``retry_after`` seconds, during which calls fail at once instead of each paying the
timeout; the connections opened before the failure are recycled, since a restarted server closed them.
Every other database error (a lock not granted in time, a missing table) is a `JournalError`: the
database answered, so it does not rest.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import select
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from failover.errors import ConfigError, JournalError
from failover.fleet.config import FleetConfig

if TYPE_CHECKING:
    import psycopg

__all__ = ["DatabaseUnavailable", "FleetDatabase", "connect_kwargs", "require_psycopg"]

log = logging.getLogger("failover.fleet")


class DatabaseUnavailable(JournalError):
    """The fleet's database did not answer (refused, timed out, resting after a failure)."""


def require_psycopg() -> None:
    """Raise `ConfigError` naming the extra when psycopg or its pool is not installed."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise ConfigError("install failover[postgres] to use the fleet's PostgreSQL store") from exc


def connect_kwargs(config: FleetConfig, session: str = "failover") -> dict[str, Any]:
    """Keyword arguments of `psycopg.connect` for the fleet's schema (also for LISTEN connections);
    ``session`` names the process's sessions (their ``application_name``)."""
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": max(2, round(config.connect_timeout)),  # libpq's floor is 2 s
        # synchronous_commit: see _sql.py; appends turn it on for themselves.
        "options": f"-c search_path={config.schema_name} -c synchronous_commit=off",
        "application_name": session,
    }
    if config.password is not None:
        kwargs["password"] = config.password.get_secret_value()
    return kwargs


class _Watchdog:
    """One thread that shuts the socket of each call still running at its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, int] = {}  # token -> socket fd
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, deadline: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = fd
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="failover-fleet-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][1] == token:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                fd = self._armed.pop(token)
                _shut(fd)


def _has_input(fd: int) -> bool:
    """Whether an idle pooled connection has something to read: nothing is due on one that is well."""
    try:
        readable, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _shut(fd: int) -> None:
    # A duplicate of the descriptor: shutting it down ends the connection the call is blocked on.
    with contextlib.suppress(OSError), socket.socket(fileno=socket.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


_watchdog = _Watchdog()


class FleetDatabase:
    """A connection pool on the fleet's schema; thread-safe; `close` it at the end.

    ``clock`` paces the rest after a failure (monotonic seconds).
    """

    def __init__(self, config: FleetConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        require_psycopg()
        import psycopg
        from psycopg_pool import ConnectionPool

        self.config = config
        # This pool's sessions' name, unique in the fleet: an intent names it, and holds its key only
        # while a session of that name is connected (the process lives).
        self.session = f"failover-{uuid.uuid4().hex[:16]}"
        self._operational_error = psycopg.OperationalError
        self._error = psycopg.Error
        self._answered: tuple[type[BaseException], ...] = (
            psycopg.errors.LockNotAvailable,
            psycopg.errors.QueryCanceled,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._resting_until = 0.0
        self._failures = 0
        self._epoch = 0
        self._born: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            config.dsn,
            kwargs=connect_kwargs(config, self.session),
            min_size=1,
            max_size=config.pool_size,
            timeout=config.connect_timeout,
            name=f"failover-{config.schema_name}",
            open=False,
            reconnect_timeout=0,  # never give up reconnecting: the database may be down for hours
        )
        self._pool.open(wait=False)

    @property
    def schema(self) -> str:
        return self.config.schema_name

    @property
    def available(self) -> bool:
        """False while the database rests after a failure (calls then fail at once)."""
        return self._clock() >= self._resting_until

    @property
    def failures(self) -> int:
        """Calls that failed to reach the database so far."""
        return self._failures

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection, every statement on it bounded by ``timeout`` (default
        ``call_timeout``) in all; a failure to reach the database raises `DatabaseUnavailable`."""
        if not self.available:
            raise DatabaseUnavailable("the fleet database is resting after a failure", operation="connect")
        started = time.monotonic()
        deadline = started + (self.config.call_timeout if timeout is None else timeout)
        try:
            conn = self._checkout(min(deadline, started + self.config.connect_timeout))
        except Exception as exc:
            raise self._failed(exc, "connect") from exc
        token = _watchdog.arm(conn.pgconn.socket, deadline)
        try:
            yield conn
        except self._answered as exc:  # the server said no in time (lock_timeout): it is well
            raise JournalError(f"the fleet database did not grant a lock in time: {exc}", operation="query") from exc
        except self._operational_error as exc:
            raise self._failed(exc, "query") from exc
        except self._error as exc:
            raise JournalError(f"the fleet database refused a call: {type(exc).__name__}: {exc}") from exc
        finally:
            _watchdog.disarm(token)
            self._pool.putconn(conn)

    def _checkout(self, deadline: float) -> psycopg.Connection[Any]:
        while True:
            conn = self._pool.getconn(timeout=max(0.001, deadline - time.monotonic()))
            born = self._born.setdefault(conn, self._epoch)
            if born == self._epoch and not conn.closed and not _has_input(conn.pgconn.socket):
                return conn
            # Opened before the last failure, or the server spoke while it was idle (its goodbye: a
            # restarted server ends its sessions): let the pool replace it.
            conn.close()
            self._pool.putconn(conn)

    def _failed(self, exc: BaseException, operation: str) -> DatabaseUnavailable:
        with self._lock:
            self._failures += 1
            self._epoch += 1
            self._resting_until = self._clock() + self.config.retry_after
        log.warning("fleet database unavailable (%s): %s", operation, exc)
        return DatabaseUnavailable(f"the fleet database did not answer: {exc}", operation=operation)

    def close(self) -> None:
        self._pool.close(timeout=1.0)

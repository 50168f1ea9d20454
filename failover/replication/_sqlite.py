"""SQLite connections shared by the threads of a process, with the settings durable state needs.

Every SQLite error leaves here as a `JournalError` (a path that cannot be a database file as a
`ConfigError`), so nothing above sees ``sqlite3``; every wait (for this process's lock, for another
process's) is bounded by the caller's ``timeout``. Writes of many threads share commits (and their
fsyncs: `SqliteFile.commit`); readers learn cheaply whether anything was committed
(`SqliteFile.changes`).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from failover.errors import ConfigError, JournalError
from failover.policy.jitter import jitter

__all__ = ["SqliteFile"]

T = TypeVar("T")


class SqliteFile:
    """One file in WAL mode: a writer connection and a reader connection, each behind its own lock.

    Two connections rather than one per thread: `close` then closes everything (an unclosed
    connection is a ResourceWarning), and the statements here are short. The reader has its own so
    that reads (``newest_pending`` on every get) never wait behind a commit's fsync: in WAL mode a
    reader sees the last committed state while a writer commits. Other processes share the file
    the same way; ``busy_timeout`` is the longest any call waits for a lock unless it passes a
    shorter ``timeout``.

    Opening is safe when several processes create the same new file at once: switching a new file
    to WAL takes an exclusive lock that SQLite refuses at once (no busy wait) to a second process
    doing the same, so the switch and the schema are retried within ``busy_timeout``. ``field``
    names the setting the path came from, in errors.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "NORMAL"],
        busy_timeout: float,
        schema: str,
        field: str = "journal",
        on_commit: Callable[[int, bool], object] | None = None,
    ) -> None:
        self.path = Path(path)
        self.field = field
        self.busy_timeout = busy_timeout
        self.on_commit = on_commit
        self.on_own_commit: Callable[[object, object, frozenset[str]], object] | None = None
        """``(before, after, touched)`` after a `commit` of this file's writer that no other commit
        joined: `changes` went from ``before`` to ``after`` by this commit alone, and its calls named
        ``touched`` (their ``touches``). Not called where the WAL-index header cannot be read."""
        self._synchronous = synchronous
        self._syncing = synchronous  # the writer connection's setting now (see `commit`)
        _check_path(self.path, field)
        self.lock = threading.Lock()
        self._calls = threading.Condition()  # guards the two below
        self._queued: list[_Call] = []
        self._leading = False
        self._read_lock = threading.Lock()
        self._conn = self._connect()
        self._reader: sqlite3.Connection | None = None
        self._header: _WalHeader | None = None
        try:
            self._open(synchronous, schema)
            self._reader = self._connect()
            self._header = _WalHeader.open(self.path)
        except BaseException:
            self._conn.close()
            if self._reader is not None:
                self._reader.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,  # the busy timeout: wait that long for another process's lock
                isolation_level=None,  # autocommit; write transactions are explicit below
                check_same_thread=False,  # each connection is guarded by its lock
            )
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the {self.field} at {self.path}: {exc}", field=self.field) from exc
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open(self, synchronous: str, schema: str) -> None:
        expires = time.monotonic() + self.busy_timeout
        pause = 0.005
        while True:
            try:
                if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(f"PRAGMA synchronous={synchronous}")
                with self.write() as conn:
                    # Statement by statement: executescript would commit the transaction on its own.
                    for statement in filter(None, (part.strip() for part in schema.split(";"))):
                        conn.execute(statement)
                return
            except (sqlite3.OperationalError, JournalError) as exc:
                if not _is_busy(exc) or time.monotonic() + pause > expires:
                    raise self._error("open", exc) from exc
            except sqlite3.Error as exc:
                raise self._error("open", exc) from exc
            time.sleep(pause * (0.5 + jitter()))
            pause = min(pause * 2, 0.1)

    @contextlib.contextmanager
    def write(self, timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE takes the file's write lock up front, so two processes
        never both read then both try to upgrade (which SQLite resolves by failing one of them).

        Waits at most ``timeout`` (default ``busy_timeout``) for the locks. A failure anywhere, COMMIT
        included, rolls the transaction back; SQLite's errors are raised as `JournalError`.
        """
        wait = self._wait(timeout)
        started = time.monotonic()
        if not self.lock.acquire(timeout=wait):
            raise self._busy(wait)
        try:
            try:
                left = max(0.0, wait - (time.monotonic() - started))
                if self._syncing != self._synchronous:
                    self._conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                    self._syncing = self._synchronous
                self._conn.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error("lock", exc) from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):
                    raise self._error("write", exc) from exc
                raise
        finally:
            self.lock.release()

    def commit(
        self,
        work: Callable[[sqlite3.Connection], T],
        timeout: float | None = None,
        *,
        sync: bool = True,
        touches: str | None = None,
    ) -> T:
        """``work(conn)`` in a write transaction, durable when it returns: a group commit.

        Calls that arrive while a transaction commits (its fsync, with ``synchronous=FULL``) queue;
        the next of them to run takes every queued call into one transaction, each in a savepoint of
        its own, and commits them together: one fsync for all, as databases do. A call alone commits
        at once, with one fsync, as `write` does. Each call returns (or raises) only after the
        COMMIT that holds its work returned, so a call that returned is on disk. ``work`` runs on
        whichever thread leads the group: it uses only ``conn`` and returns; its exception (SQLite's
        as a `JournalError`) undoes its own savepoint only and is raised to its caller; a failed
        COMMIT fails every call of the group.

        ``timeout`` (default ``busy_timeout``) bounds the wait for the locks, as in `write`: a call
        still queued when it passes, or whose turn in the transaction comes after it, fails with a
        `JournalError` without having written anything.

        ``sync=False``: the work need only survive this process, not the machine: a group of such
        calls alone commits with ``synchronous=NORMAL`` (written to the WAL, no fsync), and the next
        synced commit's fsync puts it on disk too (the WAL is written in order). A group with any
        synced call commits with the file's own setting. ``touches`` names what the work may change,
        for `on_own_commit`.
        """
        wait = self._wait(timeout)
        call = _Call(work, time.monotonic() + wait, sync, touches)
        with self._calls:
            self._queued.append(call)
            while self._leading and not call.done:
                left = call.deadline - time.monotonic()
                if not call.taken and left <= 0:
                    self._queued.remove(call)
                    raise self._busy(wait)
                self._calls.wait(None if call.taken else left)
            if not call.done:
                self._leading = True
                group, self._queued = self._queued, []
                for each in group:
                    each.taken = True
        if not call.done:
            try:
                self._commit_group(group)
            finally:
                with self._calls:
                    for each in group:
                        each.done = True
                    self._leading = False
                    self._calls.notify_all()
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[no-any-return]

    def _commit_group(self, group: list[_Call]) -> None:
        started = time.monotonic()
        wait = max(0.0, max(each.deadline for each in group) - started)
        if not self.lock.acquire(timeout=wait):
            error = self._busy(wait)
            for each in group:
                each.error = error
            return
        try:
            try:
                syncing = self._synchronous if any(each.sync for each in group) else "NORMAL"
                if syncing != self._syncing:
                    self._conn.execute(f"PRAGMA synchronous = {syncing}")
                    self._syncing = syncing
                self._conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                error = self._error("lock", exc)
                for each in group:
                    each.error = error
                return
            ran = 0
            synced = syncing != "NORMAL"
            # Read while this writer holds the file's write lock: no other commit can come in between.
            before = self._header.read() if self._header is not None else None
            seen = self._conn.execute("PRAGMA data_version").fetchone()[0] if before is not None else None
            try:
                for each in group:
                    if each.deadline < time.monotonic():
                        each.error = self._busy(each.deadline - started)
                        continue
                    self._conn.execute("SAVEPOINT call")
                    try:
                        each.result = each.work(self._conn)
                    except BaseException as exc:
                        self._conn.execute("ROLLBACK TO call")
                        self._conn.execute("RELEASE call")
                        each.error = self._error("write", exc) if isinstance(exc, sqlite3.Error) else exc
                    else:
                        self._conn.execute("RELEASE call")
                        ran += 1
                self._conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                failed: BaseException = self._error("write", exc) if isinstance(exc, sqlite3.Error) else exc
                for each in group:
                    each.error = failed
                    each.result = None
                if not isinstance(exc, Exception):
                    raise
                return
            if before is not None and self._header is not None and self.on_own_commit is not None:
                after = self._header.read()
                # The writer's data_version changes only when another connection committed: read after
                # the header, unchanged, it proves that ``after`` is this commit's alone.
                if self._conn.execute("PRAGMA data_version").fetchone()[0] == seen:
                    self.on_own_commit(before, after, frozenset(e.touches for e in group if e.touches is not None))
        finally:
            self.lock.release()
        if self.on_commit is not None and ran:
            self.on_commit(ran, synced)

    def _wait(self, timeout: float | None) -> float:
        return self.busy_timeout if timeout is None else max(0.0, min(timeout, self.busy_timeout))

    def _busy(self, wait: float) -> JournalError:
        return JournalError(f"the {self.field} at {self.path} stayed busy in this process for {max(wait, 0):.3g} s")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the first error is the one worth raising
                self._conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The reader connection, for single SELECTs (each sees everything committed before it)."""
        assert self._reader is not None
        with self._read_lock:
            try:
                yield self._reader
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc

    def changes(self) -> object:
        """A token that is different after any commit to the file, by any connection in any process
        (this one's writer included), from what it was before: equal tokens mean nothing was committed
        in between.

        The WAL-index header in the ``-shm`` file, which every commit rewrites (its last frame and
        checksums) before its writer lets go of the file, read from memory (mapped): 48 bytes, no
        system call, no lock (a torn read only ever looks like a change).
        Where that header is not in the documented layout, ``PRAGMA data_version`` on the reader
        connection answers instead (it changes on every commit by another connection, and the
        reader never writes), at the cost of a read transaction (measured here at about as much
        as a small query).
        """
        header = self._header
        if header is not None:
            return header.read()
        with self.read() as conn:
            return conn.execute("PRAGMA data_version").fetchone()[0]

    def _error(self, what: str, exc: BaseException) -> JournalError:
        if isinstance(exc, JournalError):
            return exc
        return JournalError(f"{what} of the {self.field} at {self.path} failed: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        with self.lock, self._read_lock:
            if self._header is not None:
                self._header.close()  # before the connections: the last one to close may truncate the file
                self._header = None
            self._conn.close()
            if self._reader is not None:
                self._reader.close()


_WAL_INDEX_VERSION = 3007000
_HEADER = struct.Struct("=IIIB")  # iVersion, unused, iChange, isInit: the start of the WAL-index header
_HEADER_SIZE = 48  # one copy of the header; a commit rewrites both copies, this one last


class _WalHeader:
    """The WAL-index header of a database in WAL mode, read from its ``-shm`` file mapped read-only.

    SQLite documents the layout (the database file format, "WAL-Index Format"): the header holds a
    change counter and the last valid frame of the WAL, and every commit rewrites it before the
    writer releases its lock, so a commit that returned in any process has changed these bytes.
    The file stays as long as a connection to the database is open (this process keeps two), so
    the mapping is valid until `close`, which comes before the connections close.
    """

    def __init__(self, mapped: mmap.mmap) -> None:
        self._mapped = mapped

    @classmethod
    def open(cls, database: Path) -> _WalHeader | None:
        """The header of ``database``, or None where it is not in the layout this reads."""
        try:
            fd = os.open(f"{database}-shm", os.O_RDONLY)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size < _HEADER_SIZE:
                return None
            mapped = mmap.mmap(fd, _HEADER_SIZE, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        version, _, _, initialized = _HEADER.unpack_from(mapped)
        if version != _WAL_INDEX_VERSION or initialized != 1:
            mapped.close()
            return None
        return cls(mapped)

    def read(self) -> bytes:
        return self._mapped[:_HEADER_SIZE]

    def close(self) -> None:
        self._mapped.close()


class _Call:
    """One call of `SqliteFile.commit`: its work, its deadline (monotonic), its outcome."""

    __slots__ = ("deadline", "done", "error", "result", "sync", "taken", "touches", "work")

    def __init__(
        self, work: Callable[[sqlite3.Connection], Any], deadline: float, sync: bool, touches: str | None
    ) -> None:
        self.work = work
        self.deadline = deadline
        self.sync = sync
        self.touches = touches
        self.taken = False  # in a group being committed: it no longer times out in the queue
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


def _check_path(path: Path, field: str) -> None:
    """A path SQLite cannot make a file of is a configuration mistake, said plainly."""
    if path.is_dir():
        raise ConfigError(f"the {field} path {path} is a directory, not a file", field=field)
    if not path.parent.is_dir():
        raise ConfigError(f"the {field} path {path} is in a directory that does not exist", field=field)


def _is_busy(exc: BaseException) -> bool:
    cause = exc.__cause__ if isinstance(exc, JournalError) else exc
    return isinstance(cause, sqlite3.OperationalError) and (
        "locked" in str(cause) or "busy" in str(cause) or getattr(cause, "sqlite_errorcode", 0) in (5, 6)
    )

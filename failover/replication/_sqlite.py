"""SQLite connections shared by the threads of a process, with the settings durable state needs."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

__all__ = ["SqliteFile"]


class SqliteFile:
    """One file in WAL mode: a writer connection and a reader connection, each behind its own lock.

    Two connections rather than one per thread: `close` then closes everything (an unclosed
    connection is a ResourceWarning), and the statements here are short. The reader has its own so
    that reads (``newest_pending`` on every get) never wait behind a commit's fsync: in WAL mode a
    reader sees the last committed state while a writer commits. Other processes share the file
    the same way, with a busy timeout for writers.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "NORMAL"],
        busy_timeout: float,
        schema: str,
    ) -> None:
        self.path = Path(path)
        self.lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._conn = self._connect(busy_timeout)
        self._reader: sqlite3.Connection | None = None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            with self.write() as conn:
                # Statement by statement: executescript would commit the transaction on its own.
                for statement in filter(None, (part.strip() for part in schema.split(";"))):
                    conn.execute(statement)
            self._reader = self._connect(busy_timeout)
        except BaseException:
            self._conn.close()
            raise

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        return sqlite3.connect(
            self.path,
            timeout=busy_timeout,  # the busy timeout: wait that long for another process's lock
            isolation_level=None,  # autocommit; write transactions are explicit below
            check_same_thread=False,  # each connection is guarded by its lock
        )

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE takes the file's write lock up front, so two processes
        never both read then both try to upgrade (which SQLite resolves by failing one of them)."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The reader connection, for single SELECTs (each sees everything committed before it)."""
        assert self._reader is not None
        with self._read_lock:
            yield self._reader

    def close(self) -> None:
        with self.lock, self._read_lock:
            self._conn.close()
            if self._reader is not None:
                self._reader.close()

"""One lock per key, for the writers and the replicator of one `FailoverStorage`.

A write holds its key's lock from taking the version stamp until the journal records it, and the
replicator holds it while it applies a journaled item of that key. So within one process, stamps
of a key reach its stores in stamp order, and a replication copy never lands between a write (or a
delete) and its journal entry. Reads take no lock.

A wait for a key's lock is bounded: ``locks(key, timeout)`` raises `TimeoutError` when the lock
is still held after ``timeout`` seconds, so a call's deadline also bounds its wait behind other
writers of the key (and the replicator holds a key's lock only for short journal checks, never for
a whole copy).

Locks exist only while someone holds or waits for them: a reference count per key removes each
when its last user leaves, so a process that writes millions of keys keeps no lock per key.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["KeyLocks"]


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class KeyLocks:
    """``with locks(key):`` serializes the callers that name the same key; other keys do not wait."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    @contextlib.contextmanager
    def __call__(self, key: str, timeout: float | None = None) -> Iterator[None]:
        with self._mutex:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            entry.users += 1
        try:
            if not entry.lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
                raise TimeoutError(f"another call held the lock of {key!r} for {timeout:.3g} s")
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            with self._mutex:
                entry.users -= 1
                if not entry.users:
                    del self._entries[key]

    def held(self) -> int:
        """How many keys are held or waited for now."""
        with self._mutex:
            return len(self._entries)

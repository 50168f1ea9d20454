"""A `Journal` in a dict, for the overhead benchmark only: it shows what the SQLite journal costs.

`FailoverStorage` takes any `Journal`; with this one a put appends to a dict instead of committing
(and fsyncing) a SQLite transaction, and a read looks the key up in a dict instead of querying the
database. It keeps the semantics the read and write paths rely on (the newest version per key wins,
its pending stores are what `newest_pending` answers) and none of the durability: never use it to
hold acknowledged writes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from failover.replication import JournalItem, Op

__all__ = ["MemoryJournal"]


@dataclass
class _Entry:
    version: str
    sha256: str | None
    size: int
    source: str
    op: Op
    created: float
    pending: dict[str, tuple[int, float, str | None]] = field(default_factory=dict)  # attempts, next, error


class MemoryJournal:
    """The newest journaled version of each key and the stores it is still pending on."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def append(
        self,
        key: str,
        version: str,
        sha256: str | None,
        size: int,
        source: str,
        pending_stores: Collection[str],
        op: Op = Op.PUT,
    ) -> bool:
        now = time.time()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version > version:
                return False
            stores = set(pending_stores) - {source}
            if not stores:
                self._entries.pop(key, None)
                return True
            entry = _Entry(version, sha256, size, source, Op(op), now)
            entry.pending = {store: (0, now, None) for store in sorted(stores)}
            self._entries[key] = entry
            return True

    def pending(self, store: str | None = None, *, limit: int = 100, now: float | None = None) -> list[JournalItem]:
        due = time.time() if now is None else now
        with self._lock:
            items = [
                JournalItem(key, e.version, e.sha256, e.size, e.source, e.op, name, attempts, at, e.created, error)
                for key, e in self._entries.items()
                for name, (attempts, at, error) in e.pending.items()
                if (store is None or name == store) and at <= due
            ]
        return sorted(items, key=lambda item: (item.version, item.store))[:limit]

    def is_pending(self, key: str, version: str, store: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.version == version and store in entry.pending

    def mark_done(self, key: str, version: str, store: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version != version:
                return
            entry.pending.pop(store, None)
            if not entry.pending:
                del self._entries[key]

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version and store in entry.pending:
                attempts = entry.pending[store][0]
                entry.pending[store] = (attempts + 1, next_attempt, error)

    def newest_pending(self, key: str) -> frozenset[str]:
        with self._lock:
            entry = self._entries.get(key)
            return frozenset(entry.pending) if entry is not None else frozenset()

    def backlog(self) -> dict[str, int]:
        with self._lock:
            counts = Counter(store for entry in self._entries.values() for store in entry.pending)
        return dict(sorted(counts.items()))

    def close(self) -> None:
        return None

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

from failover.replication import Intent, JournalItem, Op

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
    dead: dict[str, tuple[int, float, str | None]] = field(default_factory=dict)


class MemoryJournal:
    """The newest journaled version of each key and the stores it is still pending on."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._intents: dict[tuple[str, str], Intent] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self._intents[key, version] = Intent(key, version, sha256, size, Op(op), tuple(stores), time.time() + lease)

    def abandon(self, key: str, version: str, *, timeout: float | None = None) -> None:
        with self._lock:
            self._intents.pop((key, version), None)

    def intents(self, *, expired_by: float, limit: int = 100) -> list[Intent]:
        with self._lock:
            expired = [intent for intent in self._intents.values() if intent.expires <= expired_by]
        return sorted(expired, key=lambda intent: intent.version)[:limit]

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
        now = time.time()
        with self._lock:
            self._intents.pop((key, version), None)
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
            if not entry.pending and not entry.dead:
                del self._entries[key]

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version and store in entry.pending:
                attempts = entry.pending[store][0]
                entry.pending[store] = (attempts + 1, next_attempt, error)

    def dead_letter(self, key: str, version: str, store: str, error: str | None = None) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version and store in entry.pending:
                attempts, at, last = entry.pending.pop(store)
                entry.dead[store] = (attempts + 1, at, error or last)

    def dead_letters(self, *, limit: int = 100) -> list[JournalItem]:
        with self._lock:
            items = [
                JournalItem(key, e.version, e.sha256, e.size, e.source, e.op, name, attempts, at, e.created, error)
                for key, e in self._entries.items()
                for name, (attempts, at, error) in e.dead.items()
            ]
        return sorted(items, key=lambda item: (item.version, item.store))[:limit]

    def revive(self, store: str | None = None) -> int:
        revived = 0
        with self._lock:
            for entry in self._entries.values():
                for name in [name for name in entry.dead if store is None or name == store]:
                    del entry.dead[name]
                    entry.pending[name] = (0, time.time(), None)
                    revived += 1
        return revived

    def newest_pending(self, key: str) -> frozenset[str]:
        with self._lock:
            entry = self._entries.get(key)
            return frozenset(entry.pending) | frozenset(entry.dead) if entry is not None else frozenset()

    def newest_under(self, prefix: str) -> list[JournalItem]:
        with self._lock:
            items = [
                JournalItem(key, e.version, e.sha256, e.size, e.source, e.op, name, attempts, at, e.created, error)
                for key, e in self._entries.items()
                if key.startswith(prefix)
                for name, (attempts, at, error) in (e.pending | e.dead).items()
            ]
        return sorted(items, key=lambda item: (item.key, item.store))

    def backlog(self) -> dict[str, int]:
        with self._lock:
            counts = Counter(store for entry in self._entries.values() for store in entry.pending)
        return dict(sorted(counts.items()))

    def close(self) -> None:
        return None

"""The journal: a durable outbox of the versions each store still has to receive.

`FailoverStorage` records the intent of each write (or delete: a tombstone) before any store is
written, then, once a store acknowledged it, appends the entry naming the stores that did not get
it; the `Replicator` works through the pending (entry, store) pairs, oldest version first, and marks
each done. The journal holds no object bytes: the replicator reads them from a store that has the
version.

Only the newest version of a key is worth copying. Appending a version retires every older entry of
that key (the newer version reaches the same stores, or is already there), and an entry older than
one already journaled is not recorded at all. So replication never copies an older version after a
newer one, and a key whose newest version is pending on a store is exactly the key that store may
serve stale (`newest_pending`, for read-your-writes).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Intent", "Journal", "JournalItem", "Op", "PartialJournal", "SqliteJournal"]


class Op(enum.StrEnum):
    """What an entry asks a store to do."""

    PUT = "put"
    DELETE = "delete"  # a tombstone


@dataclass(frozen=True, slots=True)
class JournalItem:
    """One version of one key still to be applied to one store."""

    key: str
    version: str
    sha256: str | None  # None for a tombstone
    size: int
    source: str  # the store that acknowledged the write
    op: Op
    store: str  # the store still pending
    attempts: int
    next_attempt: float  # seconds since the epoch
    created: float
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """A write recorded before any store was written, not (yet) committed nor abandoned."""

    key: str
    version: str
    sha256: str | None
    size: int
    op: Op
    stores: tuple[str, ...]
    expires: float


class Journal(Protocol):
    """A durable outbox; SQLite by default, a shared database (PostgreSQL) for a fleet of writers.

    The contract every implementation keeps:

    - Life of one write: `intend` (recorded before any store is written, so that it survives the
      writer's process; on disk at the latest with the `append` that follows it; not visible to the
      replicator, to `pending` or to `newest_pending`), then the store write, then `append` (the
      commit: durable before the caller is acknowledged, process and machine crash alike; clears
      the intent) or `abandon` (no store took it). An intent neither committed nor abandoned
      within its lease (the writer died, or the journal failed after the store write) is listed by
      `intents` and settled by the replicator, which looks for the version on the stores.
    - Life of one item (entry x store): pending and due -> applied (`mark_done`) or failed
      (`reschedule`: attempts + 1, due later) -> after the replicator's limit of attempts,
      `dead_letter`: kept, shown by `dead_letters`, never listed by `pending` nor counted by `backlog`,
      still reported by `newest_pending` (the store still lacks the version), until `revive`.
    - Ordering: only the newest version of a key is kept. Appending a version retires every older
      entry of the key; an older version than one journaled is refused (False). `pending` lists the
      oldest version first.
    - Errors: every failure of the journal itself is a `JournalError`; ``timeout`` bounds each call's
      waits for locks (None: the implementation's default).
    """

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
        """Record that ``version`` of ``key`` is about to be written to (some of) ``stores``; when it
        returns, the record survives this process (an implementation may leave its fsync to the
        `append` that follows, as `SqliteJournal` does: one fsync a write). The writer is surely done
        with it ``lease`` seconds from now: then, if it is neither committed nor abandoned,
        `intents` lists it."""
        ...

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
        """Record that ``pending_stores`` still need this version; durable when it returns. Clears the
        intent of this version, if any.

        Retires older entries of ``key``; call it after every acknowledged write, even with no store
        pending. Returns False when a newer version of ``key`` is already journaled (nothing recorded).
        """
        ...

    def abandon(self, key: str, version: str, *, timeout: float | None = None) -> None:
        """Drop the intent of ``version`` of ``key``: no store holds it."""
        ...

    def intents(self, *, expired_by: float, limit: int = 100) -> list[Intent]:
        """Intents whose ``expires`` is at or before ``expired_by``, oldest version first."""
        ...

    def pending(self, store: str | None = None, *, limit: int = 100, now: float | None = None) -> list[JournalItem]:
        """Items due at ``now`` (for one store, or all), oldest version first; dead letters excluded."""
        ...

    def is_pending(self, key: str, version: str, store: str) -> bool:
        """Whether ``version`` of ``key`` is still to be applied to ``store``: neither done nor retired by
        a newer version. The replicator asks right before applying an item it listed earlier."""
        ...

    def mark_done(self, key: str, version: str, store: str) -> None: ...

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        """Try this item again at ``next_attempt``; counts one more attempt."""
        ...

    def dead_letter(self, key: str, version: str, store: str, error: str | None = None) -> None:
        """Stop trying this item (it failed too often); it stays listed by `dead_letters`."""
        ...

    def dead_letters(self, *, limit: int = 100) -> list[JournalItem]:
        """The items given up on, oldest version first."""
        ...

    def revive(self, store: str | None = None) -> int:
        """Make the dead letters (of one store, or all) pending and due again; how many."""
        ...

    def newest_pending(self, key: str) -> frozenset[str]:
        """The stores that do not yet hold the newest journaled version of ``key`` (may serve it stale)."""
        ...

    def backlog(self) -> dict[str, int]:
        """The number of pending items per store (stores with none are absent; dead letters excluded)."""
        ...

    def newest_under(self, prefix: str) -> list[JournalItem]:
        """The pending items of the newest journaled version of each key starting with ``prefix``,
        due or not, in key order (a listing's overlay: what each store still lacks or still holds)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class PartialJournal(Protocol):
    """A journal whose `newest_pending` may, for a while, miss what other processes journaled (the
    fleet's, while its database is away): it says when its answer is whole."""

    def newest_pending_in_whole(self, key: str) -> tuple[frozenset[str], bool]:
        """`newest_pending`, and whether the answer is whole (False: another process may have a newer
        version of ``key`` pending that this one cannot see)."""
        ...

    def holds_turn(self, key: str, version: str) -> bool:
        """Whether the intent of ``version`` (recorded by `intend`) holds the key's turn among every
        writer (False: recorded where other processes cannot see it, so a write must not land over a
        newer version)."""
        ...


# The SQLite implementation, importable from here as it always was.
from failover.replication.sqlite_journal import SqliteJournal  # noqa: E402

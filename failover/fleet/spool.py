"""`SpoolingJournal`: the fleet's journal that keeps accepting entries while PostgreSQL is away.

An append goes to the `PostgresJournal`; when the database does not answer within its call deadline
(stopped, unreachable, hung), the entry goes to a local `SqliteJournal` instead (the spool, synced
to disk before `append` returns), so an acknowledged write is never lost to a database outage. A
mover thread moves spooled entries into PostgreSQL once it answers again: each is appended there
(an entry older than one the fleet journaled meanwhile is refused, as any late append) and only then
removed from the spool, so a crash in between appends it twice, which the journal absorbs.

Dead letters of spooled items move too, and stay dead there. Intents follow the same path: `intend`
records in PostgreSQL, or in the spool while the database is away; the mover moves spooled intents
too (keeping their expiry), and a commit clears the intent wherever this process recorded it.
`intents`, `dead_letters` and `newest_under` read both journals.

While the database is away this process still replicates its own spooled entries, and its reads
skip the stores its own spooled writes are pending on, and those the fleet had pending as this
process last knew (`PendingRecall`: its own appends, the database's answers, the mover's look at the
whole pending set every ``move_interval``); what other processes wrote after that it cannot know
(read-your-writes across the fleet resumes with the database).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Collection

from failover.fleet._db import DatabaseUnavailable, FleetDatabase
from failover.fleet._recall import PendingRecall
from failover.fleet.config import FleetConfig
from failover.fleet.journal import PostgresJournal
from failover.fleet.migrations import migrate
from failover.replication.journal import Intent, JournalItem, Op, SqliteJournal

__all__ = ["SpoolingJournal"]

log = logging.getLogger("failover.fleet")

_MOVE_BATCH = 500
_RECALL_LIMIT = 10_000
"""Pending items the mover's look at the database recalls at most (a backlog past it is recalled in part)."""


class SpoolingJournal:
    """A `Journal`: ``primary`` (the fleet's) when it answers, ``spool`` (this host's) when not.

    ``move_interval`` is how often, in seconds, the mover looks for spooled entries to move. Closes
    both journals on `close`.
    """

    def __init__(
        self, primary: PostgresJournal, spool: SqliteJournal, *, move_interval: float = 0.5, migrated: bool = True
    ) -> None:
        self.primary = primary
        self.spool = spool
        self.move_interval = move_interval
        # False when the process started while the database was away: the mover migrates it first.
        self._migrated = migrated
        self._move_lock = threading.Lock()
        # Intents this process recorded in the spool and has not moved: its commit clears them there.
        self._spooled_intents: set[tuple[str, str]] = set()
        self._intents_lock = threading.Lock()
        # What the database had pending, as this process last knew it: for reads while it is away.
        self._recall = PendingRecall()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._mover = threading.Thread(target=self._run_mover, name="failover-spool-mover", daemon=True)
        self._mover.start()

    @classmethod
    def open(
        cls, config: FleetConfig, *, spool: str | os.PathLike[str] | None = None, wall: Callable[[], float] = time.time
    ) -> SpoolingJournal:
        """The fleet's journal with its spool (``spool``, else ``config.spool``, else a temporary file).

        Starts even when the database does not answer: entries are spooled until it does.
        """
        path = spool or config.spool or os.path.join(tempfile.mkdtemp(prefix="failover-spool-"), "spool.sqlite")
        db = FleetDatabase(config)
        try:
            migrated = True
            try:
                migrate(db)
            except DatabaseUnavailable:
                migrated = False
            local = SqliteJournal(path, wall=wall)
        except BaseException:
            db.close()
            raise
        return cls(PostgresJournal(db, wall=wall, owns_db=True), local, migrated=migrated)

    @property
    def _reachable(self) -> bool:
        return self._migrated and self.primary.db.available

    # -- the life of a write -------------------------------------------------------------------------

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
        if self._reachable:
            try:
                self.primary.intend(key, version, sha256, size, stores, op, lease=lease, timeout=timeout)
                return
            except DatabaseUnavailable:
                pass
        with self._intents_lock:
            self._spooled_intents.add((key, version))
        self.spool.intend(key, version, sha256, size, stores, op, lease=lease, timeout=timeout)
        self._wake.set()

    def abandon(self, key: str, version: str, *, timeout: float | None = None) -> None:
        if self._spooled((key, version)):
            self.spool.abandon(key, version, timeout=timeout)
            self._forget_intent((key, version))
        if self._migrated:
            # Unreachable: the intent stays there, and replication finds that no store holds it.
            with contextlib.suppress(DatabaseUnavailable):
                self.primary.abandon(key, version, timeout=timeout)

    def intents(self, *, expired_by: float, limit: int = 100) -> list[Intent]:
        found = self.spool.intents(expired_by=expired_by, limit=limit)
        if self._migrated:
            with contextlib.suppress(DatabaseUnavailable):
                found += self.primary.intents(expired_by=expired_by, limit=limit)
        return sorted(found, key=lambda intent: (intent.version, intent.key))[:limit]

    def _spooled(self, intent: tuple[str, str]) -> bool:
        with self._intents_lock:
            return intent in self._spooled_intents

    def _forget_intent(self, intent: tuple[str, str]) -> None:
        with self._intents_lock:
            self._spooled_intents.discard(intent)

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
        if self._reachable:
            try:
                appended = self.primary.append(key, version, sha256, size, source, pending_stores, op, timeout=timeout)
            except DatabaseUnavailable:
                pass
            else:
                if appended:
                    self._recall.appended(key, version, set(pending_stores) - {source})
                if self._spooled((key, version)):
                    self.spool.abandon(key, version, timeout=timeout)
                    self._forget_intent((key, version))
                return appended
        appended = self.spool.append(key, version, sha256, size, source, pending_stores, op, timeout=timeout)
        self._forget_intent((key, version))  # the spool's append cleared it there
        self._wake.set()
        return appended

    # -- the life of an item -------------------------------------------------------------------------

    def pending(self, store: str | None = None, *, limit: int = 100, now: float | None = None) -> list[JournalItem]:
        items = self.spool.pending(store, limit=limit, now=now)
        if len(items) < limit and self._migrated:
            with contextlib.suppress(DatabaseUnavailable):
                items += self.primary.pending(store, limit=limit - len(items), now=now)
        return items

    def is_pending(self, key: str, version: str, store: str) -> bool:
        if self.spool.is_pending(key, version, store):
            return True
        if not self._migrated:
            return False
        try:
            return self.primary.is_pending(key, version, store)
        except DatabaseUnavailable:
            return False  # unknown: left for later, rather than applying what may have been retired

    def mark_done(self, key: str, version: str, store: str) -> None:
        self.spool.mark_done(key, version, store)
        self._recall.done(key, version, store)
        if not self._migrated:
            return
        # Unreachable: still pending there, so applied again later, which finds the store up to date.
        with contextlib.suppress(DatabaseUnavailable):
            self.primary.mark_done(key, version, store)

    def reschedule(self, key: str, version: str, store: str, next_attempt: float, error: str | None = None) -> None:
        if self.spool.is_pending(key, version, store):
            self.spool.reschedule(key, version, store, next_attempt, error)
            return
        if not self._migrated:
            return
        with contextlib.suppress(DatabaseUnavailable):  # unreachable: its lease runs out and it comes back
            self.primary.reschedule(key, version, store, next_attempt, error)

    def dead_letter(self, key: str, version: str, store: str, error: str | None = None) -> None:
        if self.spool.is_pending(key, version, store):
            self.spool.dead_letter(key, version, store, error)
            return
        if self._migrated:
            with contextlib.suppress(DatabaseUnavailable):  # unreachable: tried again after its lease
                self.primary.dead_letter(key, version, store, error)

    def dead_letters(self, *, limit: int = 100) -> list[JournalItem]:
        items = self.spool.dead_letters(limit=limit)
        if self._migrated:
            with contextlib.suppress(DatabaseUnavailable):
                items += self.primary.dead_letters(limit=limit)
        return sorted(items, key=lambda item: (item.version, item.store))[:limit]

    def revive(self, store: str | None = None) -> int:
        """Revives the spool's dead letters, then the database's (`DatabaseUnavailable` if it is away)."""
        revived = self.spool.revive(store)
        if self._migrated:
            revived += self.primary.revive(store)
        return revived

    # -- what readers and operators ask --------------------------------------------------------------

    def newest_pending(self, key: str) -> frozenset[str]:
        return self.newest_pending_in_whole(key)[0]

    def holds_turn(self, key: str, version: str) -> bool:
        """Whether the intent went to the database (the fleet's turns), not to the spool."""
        return not self._spooled((key, version))

    def newest_pending_in_whole(self, key: str) -> tuple[frozenset[str], bool]:
        """While the database is away, what this process knows (its spool and its recall): not whole,
        so a read asks the stores themselves which is newest (`PartialJournal`)."""
        stale = self.spool.newest_pending(key)
        if not self._migrated:
            return stale | self._recall.pending(key), False
        asked = self._recall.mark()
        try:
            fleet = self.primary.newest_pending(key)
        except DatabaseUnavailable:
            return stale | self._recall.pending(key), False
        self._recall.answered(key, fleet, asked)
        return stale | fleet, True

    def backlog(self) -> dict[str, int]:
        counts = dict(self.spool.backlog())
        if not self._migrated:
            return counts
        try:
            for store, count in self.primary.backlog().items():
                counts[store] = counts.get(store, 0) + count
        except DatabaseUnavailable:
            pass
        return counts

    def newest_under(self, prefix: str) -> list[JournalItem]:
        items = self.spool.newest_under(prefix)
        if self._migrated:
            with contextlib.suppress(DatabaseUnavailable):
                items += self.primary.newest_under(prefix)
        newest: dict[str, str] = {}
        for item in items:
            newest[item.key] = max(newest.get(item.key, item.version), item.version)
        # An entry moved while both were read may show in both: one item per (key, store).
        kept = {(item.key, item.store): item for item in items if item.version == newest[item.key]}
        return [kept[where] for where in sorted(kept)]

    def items(self, key: str) -> list[JournalItem]:
        """Every pending item of ``key`` in the spool and (when it answers) the database."""
        found = self.spool.items(key)
        if self._migrated:
            with contextlib.suppress(DatabaseUnavailable):
                found += self.primary.items(key)
        return sorted(found, key=lambda item: (item.version, item.store))

    def spooled(self) -> int:
        """Pending items waiting in the spool for the database."""
        return sum(self.spool.backlog().values())

    def _has_intents(self) -> bool:
        return bool(self.spool.intents(expired_by=math.inf, limit=1))

    # -- moving the spool into the database ---------------------------------------------------------

    def move_spooled(self) -> int:
        """Move spooled entries into the database now; the number of items moved."""
        moved = 0
        with self._move_lock:
            if not self._migrated and self.primary.db.available:
                try:
                    migrate(self.primary.db)
                    self._migrated = True
                except DatabaseUnavailable:
                    return 0
            moved += self._move_intents()
            while self._reachable:
                items = self.spool.pending(limit=_MOVE_BATCH, now=math.inf)
                if not items:
                    break
                entries: dict[tuple[str, str], list[JournalItem]] = {}
                for item in items:
                    entries.setdefault((item.key, item.version), []).append(item)
                try:
                    for (key, version), group in entries.items():
                        first = group[0]
                        stores = [item.store for item in group]
                        if self.primary.append(key, version, first.sha256, first.size, first.source, stores, first.op):
                            self._recall.appended(key, version, stores)
                        for item in group:
                            self.spool.mark_done(key, version, item.store)
                        moved += len(group)
                except DatabaseUnavailable:
                    break
            moved += self._move_dead_letters()
        if moved:
            log.info("moved %d spooled journal items into the fleet database", moved)
        return moved

    def _move_dead_letters(self) -> int:
        """Spooled dead letters into the database, dead there too (`revive` brings them back)."""
        moved = 0
        while self._reachable:
            items = self.spool.dead_letters(limit=_MOVE_BATCH)
            if not items:
                break
            try:
                for item in items:
                    stores = [item.store]
                    # Refused when a newer version was journaled meanwhile: this one is moot.
                    if self.primary.append(
                        item.key, item.version, item.sha256, item.size, item.source, stores, item.op
                    ):
                        self.primary.dead_letter(item.key, item.version, item.store, item.last_error)
                    self.spool.mark_done(item.key, item.version, item.store)
                    moved += 1
            except DatabaseUnavailable:
                break
        return moved

    def _move_intents(self) -> int:
        """Spooled intents into the database, with the time left of their leases."""
        moved = 0
        while self._reachable:
            intents = self.spool.intents(expired_by=math.inf, limit=_MOVE_BATCH)
            if not intents:
                break
            try:
                for intent in intents:
                    self.primary.record_intent(intent)
                    self.spool.abandon(intent.key, intent.version)
                    self._forget_intent((intent.key, intent.version))
                    moved += 1
            except DatabaseUnavailable:
                break
        return moved

    def _refresh_recall(self) -> None:
        """What the fleet has pending now, for reads while the database is away (see `PendingRecall`)."""
        if not self._reachable:
            return
        asked = self._recall.mark()
        with contextlib.suppress(DatabaseUnavailable):
            self._recall.refreshed(self.primary.all_newest_pending(_RECALL_LIMIT), asked)

    def _run_mover(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.move_interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                waiting = self.spooled() or self._has_intents() or self.spool.dead_letters(limit=1)
                if self.primary.db.available and (waiting or not self._migrated):
                    self.move_spooled()
                self._refresh_recall()
            except Exception:  # the spool itself failed (disk full): keep the thread alive
                log.exception("moving the journal spool failed")

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._mover.join(timeout=10)
        self.spool.close()
        self.primary.close()

    def __enter__(self) -> SpoolingJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

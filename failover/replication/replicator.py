"""The replicator: works through the journal, copying each pending version to the store that lacks it.

Oldest version first, per store; at a bounded rate; skipping stores that are down (failback is the
replicator finding a store available again and draining what it missed). Each copy goes through
`copy_version` / `apply_tombstone`, which never put an older version over a newer one. A failed item
goes back to the journal with exponential backoff, and the rest of that store's batch waits for the
next pass, so a store that is down costs one call a pass, not one per item.

A pass lists its items first and applies them one by one, so an item may have been retired by the
time its turn comes (a tombstone or a newer put of the key was journaled meanwhile): copying it
then would bring a deleted object back, or an older version, onto the store that took the new
write. So each item is applied under its key's lock (``key_lock``: `FailoverStorage` passes the one
its writers hold from stamp to journal entry) and only if the journal still lists it as pending.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from failover.clock import Clock, SystemClock
from failover.interfaces import ObjectStore
from failover.policy.bucket import TokenBucket
from failover.replication.copy import CopyOutcome, apply_tombstone, copy_version
from failover.replication.intents import settle_intents
from failover.replication.journal import Journal, JournalItem, Op

__all__ = ["Backoff", "KeyLock", "ProgressCallback", "ReplicationStats", "Replicator"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
"""Called after each finished item with (items done for that store so far, items left, store name)."""


KeyLock = Callable[[str], contextlib.AbstractContextManager[object]]
"""``key_lock(key)``: held while one item of ``key`` is applied; writers of the key hold the same lock."""


def _no_progress(done: int, remaining: int, store: str) -> None:
    pass


def _no_lock(key: str) -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext()


def _always_available(store: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Backoff:
    """When to try a failed item again: exponential in its attempts, capped, with jitter.

    Half the delay is fixed and half random ("equal jitter"), so a retry never comes back at once
    yet items that failed together spread out.
    """

    base: float = 1.0
    cap: float = 60.0
    jitter: Callable[[], float] = random.random  # uniform in [0, 1)

    def delay(self, attempts: int) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(attempts, 32))
        return ceiling / 2 + self.jitter() * ceiling / 2


@dataclass(slots=True)
class ReplicationStats:
    """What one or more passes did."""

    copied: int = 0
    deleted: int = 0
    up_to_date: int = 0  # the target already had this version or a newer one
    superseded: int = 0  # every source had moved on to a newer version
    rescheduled: int = 0  # failed this time; back in the journal with a later attempt time
    settled: int = 0  # intents left by writers, committed or abandoned (see `settle_intents`)
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.copied + self.deleted + self.up_to_date + self.superseded

    @property
    def attempted(self) -> int:
        return self.done + self.rescheduled

    def add(self, other: ReplicationStats) -> None:
        self.copied += other.copied
        self.deleted += other.deleted
        self.up_to_date += other.up_to_date
        self.superseded += other.superseded
        self.rescheduled += other.rescheduled
        self.settled += other.settled
        self.errors.extend(other.errors)

    def count(self, outcome: CopyOutcome) -> None:
        if outcome is CopyOutcome.COPIED:
            self.copied += 1
        elif outcome is CopyOutcome.DELETED:
            self.deleted += 1
        elif outcome is CopyOutcome.UP_TO_DATE:
            self.up_to_date += 1
        elif outcome is CopyOutcome.SUPERSEDED:
            self.superseded += 1
        else:
            self.rescheduled += 1


class Replicator:
    """Copies journaled versions to the stores that still need them.

    ``stores`` maps the names the journal uses to the stores. ``wall`` must be the clock the journal
    was given (its schedule is in wall-clock seconds); ``clock`` paces the rate limit and the waits
    of `drain`. ``is_available(name)`` says whether a store is up (the health tracker's view); a
    store that is not is skipped, not retried. ``rate_limit`` caps copies and deletes a second over
    all stores; ``batch`` is the most items one pass takes. ``key_lock`` serializes applying an item
    with the writes of its key (none by default: then only the re-check of the journal guards it).
    """

    def __init__(
        self,
        stores: Mapping[str, ObjectStore],
        journal: Journal,
        *,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        rate_limit: float | None = None,
        batch: int = 100,
        on_progress: ProgressCallback | None = None,
        is_available: Callable[[str], bool] | None = None,
        backoff: Backoff | None = None,
        poll_interval: float = 1.0,
        key_lock: KeyLock | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch is at least 1, not {batch}")
        self._stores = dict(stores)
        self._journal = journal
        self._clock: Clock = clock or SystemClock()
        self._wall = wall
        self._bucket = None if rate_limit is None else TokenBucket(rate_limit, clock=self._clock)
        self.batch = batch
        self._on_progress = on_progress or _no_progress
        self._is_available = is_available or _always_available
        self._backoff = backoff or Backoff()
        self.poll_interval = poll_interval
        self._key_lock = _no_lock if key_lock is None else key_lock
        self._done: dict[str, int] = {}
        # A store whose writes fail rests (in memory, on `clock`) before the next pass tries it again.
        self._failures: dict[str, int] = {}
        self._resting_until: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()

    # One pass

    def run_once(self, limit: int | None = None) -> ReplicationStats:
        """Apply up to ``limit`` (default ``batch``) due items, taking the stores in turn."""
        budget = self.batch if limit is None else limit
        stats = ReplicationStats()
        now = self._wall()
        stats.settled = settle_intents(self._journal, self._stores, now=now, is_available=self._is_available)
        queues = {
            name: self._journal.pending(name, limit=budget, now=now) for name in self._stores if self._ready(name)
        }
        remaining = self._journal.backlog()
        while budget > 0 and any(queues.values()) and not self._stopping.is_set():
            for name, items in queues.items():
                if not items or budget <= 0:
                    continue
                item = items.pop(0)
                budget -= 1
                outcome = self._apply(item, stats)
                if outcome is None:
                    # The target failed: the rest of its batch waits until the store has rested,
                    # rather than meeting the same failure item by item.
                    items.clear()
                    self._rest(name)
                    continue
                self._failures.pop(name, None)
                if not outcome.done:
                    continue
                self._done[name] = self._done.get(name, 0) + 1
                remaining[name] = max(0, remaining.get(name, 0) - 1)
                self._on_progress(self._done[name], remaining[name], name)
        return stats

    def _apply(self, item: JournalItem, stats: ReplicationStats) -> CopyOutcome | None:
        self._pace()
        with self._key_lock(item.key):
            if not self._journal.is_pending(item.key, item.version, item.store):
                stats.superseded += 1  # retired since this pass listed it (or applied by another replicator)
                return CopyOutcome.SUPERSEDED
            return self._apply_pending(item, stats)

    def _apply_pending(self, item: JournalItem, stats: ReplicationStats) -> CopyOutcome | None:
        target = self._stores[item.store]
        try:
            if item.op is Op.DELETE:
                outcome = apply_tombstone(item.key, item.version, target=target)
            else:
                assert item.sha256 is not None  # the journal refuses a put without one
                outcome = copy_version(item.key, item.version, item.sha256, target=target, sources=self._sources(item))
        except Exception as exc:  # a provider error, or a bug: either way the item must not be lost
            log.info("replicating %r %s to %s failed: %s", item.key, item.version, item.store, exc)
            self._reschedule(item, f"{type(exc).__name__}: {exc}")
            stats.rescheduled += 1
            stats.errors.append(f"{item.store} {item.key}: {type(exc).__name__}: {exc}")
            return None
        stats.count(outcome)
        if outcome.done:
            self._journal.mark_done(item.key, item.version, item.store)
        else:
            self._reschedule(item, outcome.value)
            stats.errors.append(f"{item.store} {item.key}: {outcome.value}")
        return outcome

    def _ready(self, name: str) -> bool:
        return self._is_available(name) and self._resting_until.get(name, 0.0) <= self._clock.monotonic()

    def _rest(self, name: str) -> None:
        failures = self._failures[name] = self._failures.get(name, 0) + 1
        self._resting_until[name] = self._clock.monotonic() + self._backoff.delay(failures - 1)

    def _sources(self, item: JournalItem) -> list[ObjectStore]:
        """The store that acknowledged the write first, then any other that may have the version."""
        names = [item.source, *(name for name in self._stores if name not in (item.source, item.store))]
        return [self._stores[name] for name in names if name in self._stores and self._is_available(name)]

    def _reschedule(self, item: JournalItem, error: str) -> None:
        next_attempt = self._wall() + self._backoff.delay(item.attempts)
        self._journal.reschedule(item.key, item.version, item.store, next_attempt, error)

    def _pace(self) -> None:
        if self._bucket is not None:
            wait = self._bucket.reserve()
            if wait > 0:
                self._clock.sleep(wait)

    # Until done

    def outstanding(self) -> int:
        """Items pending on the stores that are available now (due or not)."""
        backlog = self._journal.backlog()
        return sum(count for name, count in backlog.items() if name in self._stores and self._is_available(name))

    def drain(self, until: Callable[[], bool] | None = None, *, timeout: float | None = None) -> ReplicationStats:
        """Pass after pass until no available store has anything pending, ``until()`` is true, or
        ``timeout`` seconds (on ``clock``) have gone by. Waits ``poll_interval`` when nothing is due."""
        started = self._clock.monotonic()
        total = ReplicationStats()
        while not (until is not None and until()) and self.outstanding():
            if timeout is not None and self._clock.monotonic() - started >= timeout:
                break
            stats = self.run_once()
            total.add(stats)
            if stats.attempted == 0:
                self._clock.sleep(self.poll_interval)
        return total

    # In the background

    def start(self) -> None:
        """Replicate in a daemon thread until `stop`; `wake` makes it look at the journal at once."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="failover-replicator", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the journal now (call after an append) instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Finish the item in hand, then stop the background thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still finishing its item; the flag stays up so it stops after it
            self._thread = None
        # Down again, so that run_once and drain work in the caller's thread after a stop.
        self._stopping.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                done = self.run_once().done
            except Exception:  # the journal itself failed (disk full, locked): keep the thread alive
                log.exception("replication pass failed")
                done = 0
            if done == 0:
                # Real time on purpose: this only paces an idle thread, and stop() must cut it short.
                self._wake.wait(self.poll_interval)
                self._wake.clear()

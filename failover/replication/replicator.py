"""The replicator: works through the journal, copying each pending version to the store that lacks it.

Oldest version first, per store; at a bounded rate; with up to ``concurrency`` items in flight per
store; skipping stores that are down (failback is the replicator finding a store available again
and draining what it missed). Each copy goes through `copy_version` / `apply_tombstone`, which never
put an older version over a newer one. A failed item goes back to the journal with exponential
backoff, and the rest of that store's batch waits for the next pass, so a store that is down costs
one call a pass, not one per item. An item that fails for a reason of its own (its source lost the
version, the target refuses it) goes to the dead letters after ``max_attempts``; one whose store is
unavailable is retried for as long as it takes.

A pass lists its items first and applies them one by one, so an item may have been retired by the
time its turn comes (a tombstone or a newer put of the key was journaled meanwhile): copying it
then would bring a deleted object back, or an older version, onto the store that took the new
write. So each item is applied only if the journal still lists it as pending, and with conditional
writes (``if_match`` / ``if_none_match`` on puts, ``if_match`` on deletes), so that a writer that
lands between the replicator's look at the target and its write wins. No condition tells a target
that never had the key from one whose object a writer deleted a moment ago, though: a copy could
bring a deleted object back, for readers to see until the copy is taken back. So a conditional copy
occupies its key on its target (``occupy``), from before the journal is asked whether the item
is still pending, and this process's writers of the key leave that store out meanwhile (their write
is journaled for it and comes after the copy). A target that cannot write conditionally gets
the item under its key's lock (``key_lock``: `FailoverStorage` passes the one its writers hold from
stamp to journal entry), which serializes it with this process's writers only.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field

from failover.clock import Clock, SystemClock
from failover.errors import Disposition, FailoverError, NotFound, PreconditionFailed
from failover.interfaces import ObjectInfo, ObjectStore
from failover.observe import NO_OBSERVER, Observer
from failover.policy.bucket import TokenBucket
from failover.replication.copy import CopyOutcome, apply_tombstone, copy_version
from failover.replication.intents import settle_intents
from failover.replication.journal import Journal, JournalItem, Op
from failover.replication.stats import Backoff, ReplicationStats

__all__ = ["Backoff", "KeyLock", "Occupy", "ProgressCallback", "ReplicationStats", "Replicator"]

log = logging.getLogger("failover.replication")

ProgressCallback = Callable[[int, int, str], None]
"""Called after each finished item with (items done for that store so far, items left, store name)."""


KeyLock = Callable[[str], contextlib.AbstractContextManager[object]]
"""``key_lock(key)``: held while one item of ``key`` is applied to a store without conditional writes;
writers of the key hold the same lock."""

Occupy = Callable[[str, str], contextlib.AbstractContextManager[object]]
"""``occupy(key, store)``: held while one item of ``key`` is applied to ``store`` with conditional
writes. Taken between two writes of the key, never during one; while held, writers of the key leave
``store`` out."""

DEFAULT_MAX_ATTEMPTS = 10
"""Failures of one item (for reasons of its own) before it goes to the dead letters: with the
default backoff, about five minutes of trying."""


def _no_progress(done: int, remaining: int, store: str) -> None:
    pass


def _no_lock(key: str) -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext()


def _unoccupied(key: str, store: str) -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext()


def _always_available(store: str) -> bool:
    return True


_Claim = tuple[str, str, str]  # key, version, store


@dataclass
class _Pass:
    """One pass's plan and what it met: which stores and items to leave alone, until when."""

    due: float  # list items due at this wall-clock time
    ready: Callable[[str], bool]
    budget: int
    expires: float | None = None  # on the replicator's clock; None: no limit
    skip_items: set[_Claim] = field(default_factory=set)
    failed_stores: set[str] = field(default_factory=set)
    failed_items: set[_Claim] = field(default_factory=set)
    busy: int = 0  # items another pass (the background thread, a drain) had in hand
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            if self.budget <= 0:
                return False
            self.budget -= 1
            return True


class Replicator:
    """Copies journaled versions to the stores that still need them.

    ``stores`` maps the names the journal uses to the stores. ``wall`` must be the clock the journal
    was given (its schedule is in wall-clock seconds); ``clock`` paces the rate limit and the waits
    of `drain`. ``is_available(name)`` says whether a store is up (the health tracker's view); a
    store that is not is skipped by the background passes, not retried. ``rate_limit`` caps copies
    and deletes a second over all stores; ``batch`` is the most items one pass takes;
    ``concurrency`` the most items in flight per store. ``key_lock`` serializes applying an item to
    a store without conditional writes with the writes of its key; ``occupy`` keeps the writes of a
    key off a store while a conditional copy of it runs there. ``max_attempts``: failures of an
    item before it is dead-lettered.
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
        occupy: Occupy | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        concurrency: int = 1,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch is at least 1, not {batch}")
        if max_attempts < 1 or concurrency < 1:
            raise ValueError(f"max_attempts and concurrency are at least 1, not {max_attempts}, {concurrency}")
        self._stores = dict(stores)
        self._journal = journal
        self._clock: Clock = clock or SystemClock()
        self._wall = wall
        self.observer: Observer = NO_OBSERVER  # told each item applied, with its lag
        self._bucket = None if rate_limit is None else TokenBucket(rate_limit, clock=self._clock)
        self.batch = batch
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self._on_progress = on_progress or _no_progress
        self._is_available = is_available or _always_available
        self._backoff = backoff or Backoff()
        self.poll_interval = poll_interval
        self._key_lock = _no_lock if key_lock is None else key_lock
        self._occupy = _unoccupied if occupy is None else occupy
        self._done: dict[str, int] = {}
        self._remaining: dict[str, int] = {}
        self._progress_lock = threading.Lock()
        # A store whose writes fail rests (in memory, on `clock`) before the next pass tries it again.
        self._failures: dict[str, int] = {}
        self._resting_until: dict[str, float] = {}
        # Items some pass has in hand: the background thread and a drain never apply one twice at once.
        self._claimed: set[_Claim] = set()
        self._claim_lock = threading.Lock()
        self._executor: futures.ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()

    # One pass

    def run_once(self, limit: int | None = None) -> ReplicationStats:
        """Apply up to ``limit`` (default ``batch``) due items of the available stores."""
        plan = _Pass(due=self._wall(), ready=self._ready, budget=self.batch if limit is None else limit)
        return self._pass(plan)

    def _pass(self, plan: _Pass) -> ReplicationStats:
        stats = ReplicationStats()
        try:
            stats.settled = settle_intents(
                self._journal, self._stores, now=self._wall(), is_available=self._is_available
            )
        except FailoverError as exc:
            log.warning("settling the journal's intents failed: %s", exc)
        queues: dict[str, deque[JournalItem]] = {}
        for name in self._stores:
            if name in plan.failed_stores or not plan.ready(name):
                continue
            listed = self._journal.pending(name, limit=plan.budget + len(plan.skip_items), now=plan.due)
            queues[name] = deque(item for item in listed if _claim(item) not in plan.skip_items)
        with self._progress_lock:
            self._remaining = self._journal.backlog()
        if self.concurrency == 1 and plan.expires is None:
            self._round_robin(queues, plan, stats)
            return stats
        lanes = [
            (lane_stats := ReplicationStats(), self._pool().submit(self._lane, name, queue, plan, lane_stats))
            for name, queue in queues.items()
            for _ in range(min(self.concurrency, len(queue)))
        ]
        wait = None if plan.expires is None else max(0.0, plan.expires - self._clock.monotonic())
        finished, _ = futures.wait([lane for _, lane in lanes], timeout=wait)
        for lane_stats, lane in lanes:
            if lane in finished:
                lane.result()
                stats.add(lane_stats)
        return stats

    def _round_robin(self, queues: dict[str, deque[JournalItem]], plan: _Pass, stats: ReplicationStats) -> None:
        """The stores in turn, one item each, in this thread (``concurrency=1``)."""
        while any(queues.values()) and not self._stopping.is_set():
            for name, queue in queues.items():
                if not queue:
                    continue
                if not plan.take():
                    return
                if not self._step(name, queue.popleft(), plan, stats):
                    queue.clear()

    def _lane(self, name: str, queue: deque[JournalItem], plan: _Pass, stats: ReplicationStats) -> None:
        """One of a store's ``concurrency`` workers: items from its queue until it is empty."""
        while not self._stopping.is_set() and name not in plan.failed_stores:
            if plan.expires is not None and self._clock.monotonic() >= plan.expires:
                return
            try:
                item = queue.popleft()
            except IndexError:
                return
            if not plan.take():
                return
            self._step(name, item, plan, stats)

    def _step(self, name: str, item: JournalItem, plan: _Pass, stats: ReplicationStats) -> bool:
        """Apply one item; False when its store failed (the rest of its batch then waits)."""
        claim = _claim(item)
        with self._claim_lock:
            if claim in self._claimed:
                plan.busy += 1
                return True
            self._claimed.add(claim)
        try:
            outcome = self._apply(item, stats)
        finally:
            with self._claim_lock:
                self._claimed.discard(claim)
        if outcome is None:
            # The target failed: the rest of its batch waits until the store has rested, rather than
            # meeting the same failure item by item.
            plan.failed_stores.add(name)
            self._rest(name)
            return False
        self._failures.pop(name, None)
        if not outcome.done:
            plan.failed_items.add(claim)
            return True
        with self._progress_lock:
            done = self._done[name] = self._done.get(name, 0) + 1
            remaining = self._remaining[name] = max(0, self._remaining.get(name, 0) - 1)
        self._on_progress(done, remaining, name)
        return True

    def _apply(self, item: JournalItem, stats: ReplicationStats) -> CopyOutcome | None:
        self._pace()
        # A conditional copy holds no lock, so a writer of the key never waits behind a long one: it
        # occupies the target, which keeps this process's writers of the key off it instead. The journal
        # is asked once the target is occupied or the lock held, so a write before has retired the item.
        conditional = self._conditional(item)
        with self._occupy(item.key, item.store) if conditional else self._key_lock(item.key):
            if not self._journal.is_pending(item.key, item.version, item.store):
                stats.superseded += 1  # retired since this pass listed it (or applied by another replicator)
                return CopyOutcome.SUPERSEDED
            return self._apply_pending(item, stats, conditional)

    def _conditional(self, item: JournalItem) -> bool:
        """Whether the target enforces the conditions that make this item safe without the key's lock."""
        capabilities = self._stores[item.store].capabilities
        if item.op is Op.DELETE:
            return capabilities.conditional_delete
        return (
            capabilities.conditional_create
            and capabilities.conditional_update
            and capabilities.conditional_large_writes
        )

    def _apply_pending(self, item: JournalItem, stats: ReplicationStats, conditional: bool) -> CopyOutcome | None:
        target = self._stores[item.store]
        try:
            if item.op is Op.DELETE:
                outcome = apply_tombstone(item.key, item.version, target=target)
            else:
                assert item.sha256 is not None  # the journal refuses a put without one
                outcome = copy_version(
                    item.key,
                    item.version,
                    item.sha256,
                    target=target,
                    sources=self._sources(item),
                    # Under the key's lock already (no conditional writes), no writer came meanwhile.
                    on_created=(lambda stored: self._after_create(item, stored)) if conditional else None,
                )
        except FailoverError as exc:
            error = f"{type(exc).__name__}: {exc}"
            stats.errors.append(f"{item.store} {item.key}: {error}")
            if exc.disposition is not Disposition.FATAL:
                # The store is unavailable: the item is fine and waits for it, however long that takes.
                log.info("replicating %r %s to %s failed: %s", item.key, item.version, item.store, exc)
                self._reschedule(item, error)
                stats.rescheduled += 1
                return None
            self._failed(item, error, stats)
            return CopyOutcome.FAILED
        except Exception as exc:  # a bug: logged with its traceback, and the item must not be lost
            log.exception("replicating %r %s to %s raised", item.key, item.version, item.store)
            error = f"{type(exc).__name__}: {exc}"
            stats.errors.append(f"{item.store} {item.key}: {error}")
            self._failed(item, error, stats)
            return CopyOutcome.FAILED
        stats.count(outcome)
        if outcome.done:
            self._journal.mark_done(item.key, item.version, item.store)
            self.observer.replicated(item.store, self._wall() - item.created)
        else:
            stats.errors.append(f"{item.store} {item.key}: {outcome.value}")
            self._failed(item, outcome.value, stats)
        return outcome

    def _after_create(self, item: JournalItem, stored: ObjectInfo) -> None:
        """A copy created the key on its target without the key's lock: if a newer write of the key
        was journaled meanwhile (the item is retired), it may have been a delete that our create
        undid, so the copy is taken back (conditionally: a newer version there stays). A newer put
        reaches the target on its own (it is pending there, or already written over ours). While the copy
        occupied the target, this process's writers left it alone: such a delete came from another one."""
        if self._journal.is_pending(item.key, item.version, item.store):
            return
        target = self._stores[item.store]
        if not (stored.etag and target.capabilities.conditional_delete):
            return
        # Look first: a newer version written over our copy stays, even on a store that would not
        # enforce the condition (fake-gcs-server ignores it on deletes); the condition closes the
        # window between the look and the delete where the store enforces it.
        try:
            current = target.head(item.key)
        except NotFound:
            return
        if current.etag != stored.etag or current.version != item.version:
            return
        with contextlib.suppress(PreconditionFailed, NotFound):
            target.delete(item.key, if_match=stored.etag)

    def _failed(self, item: JournalItem, error: str, stats: ReplicationStats) -> None:
        """An attempt that failed for a reason of the item's own: retried, or dead-lettered at last."""
        if item.attempts + 1 >= self.max_attempts:
            log.warning(
                "giving up on %r %s for %s after %d attempts (%s): dead-lettered; `failover replay` retries it",
                item.key,
                item.version,
                item.store,
                item.attempts + 1,
                error,
            )
            self._journal.dead_letter(item.key, item.version, item.store, error)
            stats.dead_lettered += 1
        else:
            self._reschedule(item, error)
            stats.rescheduled += 1

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

    def _pool(self) -> futures.ThreadPoolExecutor:
        with self._claim_lock:
            if self._executor is None:
                workers = self.concurrency * max(1, len(self._stores))
                self._executor = futures.ThreadPoolExecutor(workers, "failover-replication")
            return self._executor

    # Until done

    def outstanding(self) -> int:
        """Items pending on the stores that are available now (due or not)."""
        backlog = self._journal.backlog()
        return sum(count for name, count in backlog.items() if name in self._stores and self._is_available(name))

    def drain(self, until: Callable[[], bool] | None = None, *, timeout: float | None = None) -> ReplicationStats:
        """Replicate everything this call can, now; returns when nothing is left to try, ``until()``
        is true, or ``timeout`` seconds (on ``clock``) have passed, whatever copies are in flight.

        Every configured store with a backlog is tried, whatever its health says (a store that has
        just recovered may not have closed its circuit yet), and items are taken whether or not
        their retry is due. An item that fails is not tried again by this call (it is rescheduled,
        or dead-lettered after ``max_attempts``), and a store that fails is left for the rest of
        it: so a drain never waits on a store that stays down, nor spins on an item that cannot
        succeed. The background thread goes on meanwhile; the two never apply one item at once,
        and a drain waits for items the background thread has in hand.
        """
        started = self._clock.monotonic()
        expires = None if timeout is None else started + timeout
        total = ReplicationStats()
        plan = _Pass(due=math.inf, ready=lambda name: True, budget=0, expires=expires)
        while not (until is not None and until()):
            if expires is not None and self._clock.monotonic() >= expires:
                break
            plan.budget, plan.busy = self.batch, 0
            plan.skip_items |= plan.failed_items
            stats = self._pass(plan)
            total.add(stats)
            if stats.attempted == 0 and not stats.settled:
                if not plan.busy:
                    break
                self._clock.sleep(min(self.poll_interval, 0.05))  # another pass holds some items: wait
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
        """Finish the items in hand, then stop the background thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still finishing its items; the flag stays up so it stops after them
            self._thread = None
        if self._executor is not None:
            # The thread ended with its items: the copies are done, and the idle workers end at once.
            self._executor.shutdown(wait=True)
            self._executor = None
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


def _claim(item: JournalItem) -> _Claim:
    return (item.key, item.version, item.store)

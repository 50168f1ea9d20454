"""Writes: a version stamp on every object, the engine's failover, and the journal as an outbox.

Each write first records its intent in the journal (durably, before any store is written), then
writes, then commits the journal entry (the stores still pending) before the caller hears success,
or abandons the intent when no store can hold the write. So an object is never on a store without
the journal knowing: a writer that dies (or a journal that fails) between the store write and the
commit leaves the intent, which the replicator settles. Every wait (the key's lock, the journal's
lock, the stores) comes out of the call's one deadline.

Primary mode: one store takes the write (the first that acknowledges it, in routing order); the
journal then records every other store as pending, durably, before the caller hears success.
Mirror mode: every available store takes it in parallel, all inside the call's one deadline;
success comes as soon as ``quorum`` stores acknowledged it and the journal records the others as
pending. The slower stores' writes go on in the background (`InFlight`): one that succeeds marks
its store done in the journal, one that fails leaves it pending for the replicator. A delete is a
tombstone: stamped and journaled the same way, so that the replicator applies it to the stores that
still hold the object.

A store that timed out after the write was sent (`OutcomeUnknown`) may or may not hold it: the
same stamped write goes on to the next store, and the uncertain one stays pending in the journal;
the replicator compares stamps there and copies only if the version is missing.

Writes to one key are serialized (`KeyLocks`, shared with the replicator), from taking the stamp
until the journal holds the entry: two unconditional puts of one key cannot overlap on a store and
leave the older stamp there, and a replication copy of the key cannot land in between.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal, TypeVar

from failover.adapters._common import VERSION_KEY
from failover.adapters._timing import MIN_REQUEST
from failover.engine import Engine, Outcome
from failover.errors import (
    AllProvidersFailed,
    Disposition,
    FailoverError,
    JournalError,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    ProviderUnavailable,
    Reason,
)
from failover.interfaces import ObjectInfo, ObjectStore
from failover.policy import classify
from failover.policy.deadline import Deadline
from failover.replication import HybridClock, Journal, Op
from failover.replication.journal import PartialJournal
from failover.storage._body import ReplayableBody
from failover.storage._guard import over_older
from failover.storage._inflight import InFlight
from failover.storage._locks import KeyLocks

__all__ = ["Mode", "Writes"]

log = logging.getLogger(__name__)

Mode = Literal["primary", "mirror"]

INTENT_GRACE = 60.0
"""Seconds after its deadline that a write's intent is left to the writer before replication settles
it: an SDK call may outlive the deadline a little (its own timeouts bound it)."""
BACKGROUND_PER_STORE = 4
"""Mirror writes that may still run on one store after their calls returned; more are journaled."""
T = TypeVar("T")
Write = Callable[[ObjectStore, float], T]


class Writes:
    """The write side of a `FailoverStorage`."""

    def __init__(
        self,
        engine: Engine[ObjectStore],
        journal: Journal,
        hlc: HybridClock,
        *,
        mode: Mode,
        quorum: int,
        journaled: Callable[[], None],
        locks: KeyLocks,
        inflight: InFlight | None = None,
        copying: InFlight | None = None,
    ) -> None:
        self._engine = engine
        self._journal = journal
        # A journal that can record an intent where other processes do not see it (the fleet's spool).
        self._holds_turn = journal.holds_turn if isinstance(journal, PartialJournal) else None
        self._hlc = hlc
        self.mode = mode
        self.quorum = quorum
        self._journaled = journaled
        self._locks = locks
        self.inflight = inflight if inflight is not None else InFlight()
        # The replicator's conditional copies running now: a write leaves their stores out.
        self.copying = copying if copying is not None else InFlight()
        # Mirror writes get threads of their own: slow stores' background writes must not hold the
        # engine's (hedged reads) nor starve the next put's fast stores.
        self._pool: futures.ThreadPoolExecutor | None = None
        if mode == "mirror":
            workers = len(engine.names) * (BACKGROUND_PER_STORE + 4)
            self._pool = futures.ThreadPoolExecutor(workers, thread_name_prefix="failover-mirror")

    def put(
        self,
        key: str,
        body: ReplayableBody,
        *,
        content_type: str | None,
        metadata: Mapping[str, str],
        if_none_match: Literal["*"] | None,
        if_match: str | None,
        timeout: float | None,
    ) -> ObjectInfo:
        def write(stored: Mapping[str, str], conditional: bool) -> Write[ObjectInfo]:
            def attempt(store: ObjectStore, attempt_timeout: float) -> ObjectInfo:
                if guarded and if_match is None and if_none_match is None:

                    def send(match: str | None, none_match: Literal["*"] | None, left: float) -> ObjectInfo:
                        return store.put(
                            key,
                            body.open(),
                            content_type=content_type,
                            metadata=stored,
                            if_none_match=none_match,
                            if_match=match,
                            timeout=left,
                        )

                    info = over_older(store, key, version, send, attempt_timeout, self._engine.clock)
                    return replace(info, store=store.name)
                native = None
                if conditional and if_match is not None:
                    # Both requests come out of one attempt: the write gets what the lookup left.
                    within = Deadline(attempt_timeout, self._engine.clock, floor=0.0)
                    native = native_etag(store, key, if_match, attempt_timeout)
                    attempt_timeout = max(within.remaining(), MIN_REQUEST)
                info = store.put(
                    key,
                    body.open(),
                    content_type=content_type,
                    metadata=stored,
                    if_none_match=if_none_match if conditional else None,
                    if_match=native,
                    timeout=attempt_timeout,
                )
                return replace(info, store=store.name)

            return attempt

        deadline = self._deadline(timeout)
        with self._turn(key, "put", deadline):
            version = str(self._hlc.now())
            stored = {**metadata, VERSION_KEY: version}
            record = _Record(key, version, body.sha256, body.size, Op.PUT)
            # An if_match is checked on a store that holds the key's newest version, never on one
            # the journal says is behind (it would refuse a caller who is right).
            stale = self._journal.newest_pending(key) if if_match is not None else frozenset()
            with self._outbox(record, deadline):
                # An intent the fleet's database did not take holds no turn: write only over older.
                guarded = self._holds_turn is not None and not self._holds_turn(key, version)
                if self.mode == "primary":
                    outcome = self._primary("put", write(stored, True), record, deadline, skip=stale)
                    self._journal_write(record, outcome.endpoint, deadline)
                    return outcome.value
                acked: dict[str, ObjectInfo] = {}
                errors: list[FailoverError] = []
                if if_none_match is not None or if_match is not None:
                    # A condition is about one store's copy (an etag is one provider's): it is checked on
                    # the store that takes the write first; the others then receive the version that
                    # passed it.
                    busy = self._busy(key)
                    first = self._engine.call(
                        "put", write(stored, True), timeout=self._left(deadline, record), skip=busy | stale
                    )
                    acked[first.endpoint] = first.value
                    errors.extend(error for _, error in first.failures)
                return self._mirror("put", write(stored, False), record, acked, errors, deadline, body)

    def delete(self, key: str, *, timeout: float | None) -> None:
        def attempt(store: ObjectStore, attempt_timeout: float) -> None:
            store.delete(key, timeout=attempt_timeout)

        deadline = self._deadline(timeout)
        with self._turn(key, "delete", deadline):
            record = _Record(key, str(self._hlc.now()), None, 0, Op.DELETE)
            with self._outbox(record, deadline):
                if self.mode == "primary":
                    outcome = self._primary("delete", attempt, record, deadline, skip=frozenset())
                    self._journal_write(record, outcome.endpoint, deadline)
                    return
                self._mirror("delete", attempt, record, {}, [], deadline)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no mirror write runs in the background; False if ``timeout`` passed first."""
        return self.inflight.wait(None, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Wait for the background writes (up to ``timeout``), then release the threads."""
        done = self.wait(timeout)
        if self._pool is not None:
            # With the writes done, the idle workers end at once: wait for them, so none outlives close.
            self._pool.shutdown(wait=done, cancel_futures=True)

    def _primary(
        self, operation: str, attempt: Write[T], record: _Record, deadline: Deadline, *, skip: frozenset[str]
    ) -> Outcome[T]:
        """The write on the first store that takes it, but for a store a replication copy of the key
        runs on (it is journaled there, after the copy), unless no other store took it: then the
        copy is waited for, within the deadline, and that store is asked too."""
        busy = self.copying.stores(record.key) - skip
        try:
            return self._engine.call(operation, attempt, timeout=self._left(deadline, record), skip=skip | busy)
        except AllProvidersFailed:
            if not busy or not self.copying.wait(record.key, deadline.remaining()) or not deadline.can_start_attempt():
                raise
        return self._engine.call(operation, attempt, timeout=self._left(deadline, record), skip=skip)

    def _busy(self, key: str) -> frozenset[str]:
        """The stores another write of ``key`` still runs on: a mirror write's, or a replication copy."""
        return self.inflight.stores(key) | self.copying.stores(key)

    def _wait_idle(self, key: str, deadline: Deadline) -> bool:
        """Whether every other write of ``key`` ended within the deadline (waited for)."""
        return self.inflight.wait(key, deadline.remaining()) and self.copying.wait(key, deadline.remaining())

    # -- the deadline, the key's turn, the outbox ----------------------------------------------------

    def _deadline(self, timeout: float | None) -> Deadline:
        return Deadline(timeout if timeout is not None else self._engine.settings.deadline, self._engine.clock)

    def _left(self, deadline: Deadline, record: _Record) -> float:
        """The time left for the stores; none left is a failure before any store was called."""
        if not deadline.can_start_attempt():
            raise AllProvidersFailed(
                f"{record.op.value} of {record.key!r}: the deadline passed before any store was called",
                operation=record.op.value,
                key=record.key,
            )
        return deadline.remaining()

    @contextlib.contextmanager
    def _turn(self, key: str, operation: str, deadline: Deadline) -> Iterator[None]:
        """This call's turn among the writers of ``key``, waited for within the deadline."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._locks(key, deadline.remaining()))
            except TimeoutError:
                raise AllProvidersFailed(
                    f"{operation} of {key!r}: the deadline passed while other writes of the key went first",
                    operation=operation,
                    key=key,
                ) from None
            yield

    @contextlib.contextmanager
    def _outbox(self, record: _Record, deadline: Deadline) -> Iterator[None]:
        """The intent is journaled before the block writes any store; abandoned if the block fails
        in a way that proves no store took the write (an `OutcomeUnknown` anywhere keeps it)."""
        self._journal.intend(
            record.key,
            record.version,
            record.sha256,
            record.size,
            self._engine.names,
            record.op,
            lease=deadline.remaining() + INTENT_GRACE,
            timeout=deadline.remaining(),
        )
        try:
            yield
        except FailoverError as exc:
            if not isinstance(exc, JournalError) and not _maybe_written(exc):
                try:
                    self._journal.abandon(record.key, record.version, timeout=max(deadline.remaining(), 0.05))
                except JournalError as error:  # the intent stays; replication finds no store holds it
                    log.warning("could not abandon the intent of %r %s: %s", record.key, record.version, error)
            raise

    # -- mirror mode ---------------------------------------------------------------------------------

    def _mirror(
        self,
        operation: str,
        attempt: Write[T],
        record: _Record,
        acked: dict[str, T],
        errors: list[FailoverError],
        deadline: Deadline,
        body: ReplayableBody | None = None,
    ) -> T:
        """``attempt`` on every available store not in ``acked``, in parallel; ack at ``quorum``.

        Every attempt runs inside ``deadline``, the call's. Once ``quorum`` stores acknowledged, the
        journal records every other store as pending and the call returns; the attempts still
        running finish in the background and mark their store done in the journal if they succeed.
        A store where an earlier write of the key still runs is not written (it is journaled as
        pending), so that the older version cannot land after this one.
        """
        engine = self._engine
        key = record.key
        targets, busy = self._targets(key, acked, deadline)
        pool = self._pool if self._pool is not None else engine.executor

        def on_store(name: str) -> T:
            return engine.call_on(name, operation, attempt, timeout=_time_for(deadline, operation))

        running: dict[futures.Future[T], str] = {}
        fatal: list[FailoverError] = []
        left: set[futures.Future[T]] = set()

        def write_to(names: list[str]) -> None:
            """Write ``names`` in parallel; collect their answers until the quorum is reached."""
            batch = {}
            for name in names:
                self.inflight.begin(key, name)
                batch[pool.submit(on_store, name)] = name
            running.update(batch)
            left.update(batch)
            for done in futures.as_completed(batch):
                left.discard(done)
                name = running[done]
                self.inflight.end(key, name)
                try:
                    acked[name] = done.result()
                except AllProvidersFailed as exc:
                    errors.extend(exc.errors)
                except FailoverError as exc:
                    errors.append(exc)
                    if classify(exc) is Disposition.FATAL:
                        fatal.append(exc)
                if len(acked) >= self.quorum:
                    break

        try:
            write_to(targets)
            # Stores left out for being behind (still writing an older version of this key, or
            # saturated with background writes) are not down: when the quorum needs them after a
            # target failed, they are written now (a busy one once its older write ended) rather
            # than the call failing with a healthy store unasked.
            behind = [name for name in busy if name not in acked]
            if len(acked) < self.quorum and not fatal and behind:
                still = self._busy(key) & set(behind)
                if (not still or self._wait_idle(key, deadline)) and deadline.can_start_attempt():
                    write_to(behind)
                    busy = frozenset()
            if len(acked) < self.quorum and not fatal:
                self._last_resort(operation, attempt, key, acked, errors, deadline, skip=set(running.values()) | busy)
            if acked:
                source = next(name for name in engine.names if name in acked)
                self._journal_write(record, source, deadline, done=acked)
        finally:
            # The rest go on in the background; each marks its store done once it succeeded (after
            # the journal entry above, so that the entry cannot reopen what it marked).
            for future in left:
                if body is not None:
                    body.retain()
                future.add_done_callback(partial(self._settled, record, running[future], body))
        if acked:
            if len(acked) >= self.quorum:
                return acked[source]
        elif fatal:
            raise fatal[0]
        raise AllProvidersFailed(
            f"{operation} reached {len(acked)} of the {self.quorum} stores the write quorum needs"
            + (" (the copies made stay, and are journaled so that replication completes them)" if acked else ""),
            errors=errors + _not_called(engine, acked, targets, operation, busy),
            operation=operation,
            key=key,
        )

    def _last_resort(
        self,
        operation: str,
        attempt: Write[T],
        key: str,
        acked: dict[str, T],
        errors: list[FailoverError],
        deadline: Deadline,
        *,
        skip: set[str] | frozenset[str],
    ) -> None:
        """The quorum is out of reach of the stores that take traffic: try those whose circuit is open.

        One attempt each, in order of preference, inside the deadline, until the quorum is reached. A
        circuit may stay open for a while after its provider healed (until a probe succeeds); a write
        that would fail anyway is worth one call there. Its outcome is told to the store's health.
        """
        engine = self._engine
        for name in engine.names:
            if len(acked) >= self.quorum or not deadline.can_start_attempt():
                return
            if name in acked or name in skip or name in self._busy(key):
                continue
            started = engine.clock.monotonic()
            try:
                acked[name] = attempt(
                    engine.endpoints[name].adapter, deadline.attempt_timeout(engine.endpoints[name].attempt_timeout)
                )
            except FailoverError as exc:
                engine.record(name, engine.clock.monotonic() - started, exc)
                errors.append(exc)
            else:
                engine.record(name, engine.clock.monotonic() - started)

    def _targets(self, key: str, acked: Mapping[str, object], deadline: Deadline) -> tuple[list[str], frozenset[str]]:
        """The stores to write now, in routing order, and those left out (journaled instead).

        Left out: a store still writing an older version of ``key`` (unless the quorum cannot be
        reached without it: then its write is waited for, within the deadline), and a store with
        `BACKGROUND_PER_STORE` writes still running (unless the quorum needs it).
        """
        order = [name for name in self._engine.router.order() if name not in acked]
        needed = self.quorum - len(acked)
        busy = self._busy(key)
        if busy and len(order) - len(busy) < needed and self._wait_idle(key, deadline):
            busy = frozenset()
        free = [name for name in order if name not in busy]
        saturated = self.inflight.saturated(BACKGROUND_PER_STORE)
        targets = [name for name in free if name not in saturated]
        for name in free:
            if len(targets) >= needed:
                break
            if name not in targets:
                targets.append(name)
        left_out = frozenset(name for name in order if name not in targets)
        return [name for name in order if name in targets], left_out

    def _settled(self, record: _Record, name: str, body: ReplayableBody | None, future: futures.Future[object]) -> None:
        """A background write of ``record`` to ``name`` ended: on success, the store is done."""
        try:
            if not future.cancelled() and future.exception() is None:
                self._journal.mark_done(record.key, record.version, name)
        except Exception:
            log.exception("could not mark %s of %r done on %s in the journal", record.op.value, record.key, name)
        finally:
            if body is not None:
                body.close()
            self.inflight.end(record.key, name)

    # -- the journal ---------------------------------------------------------------------------------

    def _journal_write(
        self, record: _Record, source: str, deadline: Deadline, *, done: Mapping[str, object] | None = None
    ) -> None:
        """Commit: every store but ``source`` (and those in ``done``) pending; durable on return."""
        pending = [name for name in self._engine.names if name != source and (done is None or name not in done)]
        committed = self._journal.append(
            record.key,
            record.version,
            record.sha256,
            record.size,
            source,
            pending,
            record.op,
            timeout=max(deadline.remaining(), 0.05),
        )
        if not committed:
            # Only another writer sharing the journal (another process, or another FailoverStorage) can
            # have journaled a newer stamp of this key meanwhile, since this one's writes of a key are
            # serialized: ``source`` may now hold this older version over that newer one until `repair`.
            log.warning(
                "%s of %r (version %s on %s) was not journaled: the journal holds a newer version of the key "
                "from another writer; the stores may disagree until `failover repair` runs",
                record.op.value,
                record.key,
                record.version,
                source,
            )
            return
        if pending:
            self._journaled()


@dataclass(frozen=True, slots=True)
class _Record:
    """What the journal needs to know of one write."""

    key: str
    version: str
    sha256: str | None  # None for a tombstone
    size: int
    op: Op


def _maybe_written(error: FailoverError) -> bool:
    """Whether a failed write may still have landed on a store (a request sent, no answer)."""
    if isinstance(error, OutcomeUnknown):
        return True
    return isinstance(error, AllProvidersFailed) and any(_maybe_written(each) for each in error.errors)


def _time_for(deadline: Deadline, operation: str) -> float:
    """The time left of the call's ``deadline`` for one more store; raise if there is none."""
    left = deadline.remaining()
    if left <= 0:
        raise ProviderUnavailable("the call's deadline passed before this store was called", operation=operation)
    return left


def _not_called(
    engine: Engine[ObjectStore],
    acked: Mapping[str, object],
    targets: list[str],
    operation: str,
    busy: frozenset[str],
) -> list[FailoverError]:
    return [
        ProviderUnavailable(
            f"{name} was not called: " + ("earlier writes still run there" if name in busy else "its circuit is open"),
            reason=Reason.OTHER,
            operation=operation,
        )
        for name in engine.names
        if name not in acked and name not in targets
    ]


def native_etag(store: ObjectStore, key: str, etag: str, timeout: float) -> str:
    """The etag ``store`` itself uses for the version of ``key`` that ``etag`` names, or `PreconditionFailed`.

    The etag `FailoverStorage` hands out is the version stamp (the same on every store); a store's
    conditional write takes its own etag. The store's current copy is looked up, compared, and its own
    etag returned, so that the write is still conditional on that copy, atomically, on that store.
    """
    try:
        current = store.head(key, timeout=timeout)
    except NotFound:
        raise PreconditionFailed(
            f"if_match {etag!r}: the object does not exist", provider=store.provider, operation="put", key=key
        ) from None
    if etag not in (current.version, current.etag) or current.etag is None:
        raise PreconditionFailed(
            f"if_match {etag!r}: the object's etag is {current.version or current.etag!r}",
            provider=store.provider,
            operation="put",
            key=key,
        )
    return current.etag

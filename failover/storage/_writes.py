"""Writes: a version stamp on every object, the engine's failover, and the journal before the ack.

Primary mode: one store takes the write (the first that acknowledges it, in routing order); the
journal then records every other store as pending, durably, before the caller hears success.
Mirror mode: every available store takes it in parallel; success needs ``quorum`` acknowledgements,
and the stores that missed it are journaled. A delete is a tombstone: stamped and journaled the
same way, so that the replicator applies it to the stores that still hold the object.

A store that timed out after the write was sent (`OutcomeUnknown`) may or may not hold it: the
same stamped write goes on to the next store, and the uncertain one stays pending in the journal;
the replicator compares stamps there and copies only if the version is missing.

Writes to one key are serialized (`KeyLocks`, shared with the replicator), from taking the stamp
until the journal holds the entry: two unconditional puts of one key cannot overlap on a store and
leave the older stamp there, and a replication copy of the key cannot land in between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass
from typing import Literal, TypeVar

from failover.adapters._common import VERSION_KEY
from failover.engine import Engine
from failover.errors import AllProvidersFailed, Disposition, FailoverError, ProviderUnavailable, Reason
from failover.interfaces import ObjectInfo, ObjectStore
from failover.policy import Deadline, classify
from failover.replication import HybridClock, Journal, Op
from failover.storage._body import ReplayableBody
from failover.storage._locks import KeyLocks

__all__ = ["Mode", "Writes"]

log = logging.getLogger(__name__)

Mode = Literal["primary", "mirror"]
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
    ) -> None:
        self._engine = engine
        self._journal = journal
        self._hlc = hlc
        self.mode = mode
        self.quorum = quorum
        self._journaled = journaled
        self._locks = locks

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
                return store.put(
                    key,
                    body.open(),
                    content_type=content_type,
                    metadata=stored,
                    if_none_match=if_none_match if conditional else None,
                    if_match=if_match if conditional else None,
                    timeout=attempt_timeout,
                )

            return attempt

        with self._locks(key):
            version = str(self._hlc.now())
            stored = {**metadata, VERSION_KEY: version}
            record = _Record(key, version, body.sha256, body.size, Op.PUT)
            if self.mode == "primary":
                outcome = self._engine.call("put", write(stored, True), timeout=timeout)
                self._journal_write(record, outcome.endpoint)
                return outcome.value
            acked: dict[str, ObjectInfo] = {}
            errors: list[FailoverError] = []
            if if_none_match is not None or if_match is not None:
                # A condition is about one store's copy (an etag is one provider's): it is checked on the
                # store that takes the write first; the others then receive the version that passed it,
                # in what is left of the same deadline (not a second one).
                deadline = Deadline(
                    timeout if timeout is not None else self._engine.settings.deadline, self._engine.clock
                )
                first = self._engine.call("put", write(stored, True), timeout=deadline.remaining())
                acked[first.endpoint] = first.value
                errors.extend(error for _, error in first.failures)
                timeout = max(deadline.remaining(), deadline.floor)
            return self._mirror("put", write(stored, False), record, acked, errors, timeout)

    def delete(self, key: str, *, timeout: float | None) -> None:
        def attempt(store: ObjectStore, attempt_timeout: float) -> None:
            store.delete(key, timeout=attempt_timeout)

        with self._locks(key):
            record = _Record(key, str(self._hlc.now()), None, 0, Op.DELETE)
            if self.mode == "primary":
                outcome = self._engine.call("delete", attempt, timeout=timeout)
                self._journal_write(record, outcome.endpoint)
                return
            self._mirror("delete", attempt, record, {}, [], timeout)

    # -- mirror mode ---------------------------------------------------------------------------------

    def _mirror(
        self,
        operation: str,
        attempt: Write[T],
        record: _Record,
        acked: dict[str, T],
        errors: list[FailoverError],
        timeout: float | None,
    ) -> T:
        """``attempt`` on every available store not in ``acked``, in parallel; ack at ``quorum``.

        Every write started is waited for (each within the deadline), so that none of this version
        is still in flight when the caller writes the key again.
        """
        engine = self._engine
        targets = [name for name in engine.router.order() if name not in acked]
        running = {
            engine.executor.submit(engine.call_on, name, operation, attempt, timeout=timeout): name for name in targets
        }
        fatal: list[FailoverError] = []
        for done in futures.as_completed(running):
            name = running[done]
            try:
                acked[name] = done.result()
            except AllProvidersFailed as exc:
                errors.extend(exc.errors)
            except FailoverError as exc:
                errors.append(exc)
                if classify(exc) is Disposition.FATAL:
                    fatal.append(exc)
        if acked:
            source = next(name for name in engine.names if name in acked)
            self._journal_write(record, source, done=acked)
            if len(acked) >= self.quorum:
                return acked[source]
        elif fatal:
            raise fatal[0]
        raise AllProvidersFailed(
            f"{operation} reached {len(acked)} of the {self.quorum} stores the write quorum needs"
            + (" (the copies made stay, and are journaled so that replication completes them)" if acked else ""),
            errors=errors + _not_called(engine, acked, targets, operation),
            operation=operation,
            key=record.key,
        )

    # -- the journal ---------------------------------------------------------------------------------

    def _journal_write(self, record: _Record, source: str, *, done: Mapping[str, object] | None = None) -> None:
        """Record every store but ``source`` (and those in ``done``) as pending; durable on return."""
        pending = [name for name in self._engine.names if name != source and (done is None or name not in done)]
        if not self._journal.append(record.key, record.version, record.sha256, record.size, source, pending, record.op):
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


def _not_called(
    engine: Engine[ObjectStore], acked: Mapping[str, object], targets: list[str], operation: str
) -> list[FailoverError]:
    return [
        ProviderUnavailable(f"{name} was not called: its circuit is open", reason=Reason.OTHER, operation=operation)
        for name in engine.names
        if name not in acked and name not in targets
    ]

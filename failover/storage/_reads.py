"""Reads with read-your-writes: never from a store that may lack the newest acknowledged version.

The journal knows, per key, which stores have not yet received its newest version
(`Journal.newest_pending`). A read skips them. When every store left is down, the read raises
`StaleReadRisk` (an older copy may be reachable, but serving it would hide an acknowledged write),
unless the caller passed ``allow_stale=True``: then the stale stores are asked, and a NotFound from
one of them is not an answer (the key may exist and not have reached it yet) but a reason to ask
the next.

A streamed `get` returns once the first chunk of the body is in hand: a store that fails between
finding the object and sending its first bytes (a reset; on GCS, an object replaced in between,
whose pinned generation is gone) is retried or failed over inside the call like any read, so the
reader answers with the version current when it opened. Later, it survives a connection that
breaks mid-body: it reopens the same version (same stamp, same sha256) from the offset it reached,
on whichever store the engine routes to; if that version is gone, the read fails (retryable).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TypeVar

from failover.engine import Engine
from failover.errors import (
    AllProvidersFailed,
    Disposition,
    FailoverError,
    NotFound,
    StaleReadRisk,
)
from failover.interfaces import ListEntry, ObjectInfo, ObjectStore
from failover.policy import Deadline, classify
from failover.reader import ObjectReader
from failover.replication import HybridClock, Journal
from failover.replication.journal import PartialJournal
from failover.storage._listing import overlay

__all__ = ["Reads"]

T = TypeVar("T")
Read = Callable[[ObjectStore, float], T]


class Reads:
    """The read side of a `FailoverStorage`."""

    def __init__(self, engine: Engine[ObjectStore], journal: Journal, hlc: HybridClock) -> None:
        self._engine = engine
        self._journal = journal
        self._hlc = hlc
        self._newest_seen = ""
        self._in_whole = journal.newest_pending_in_whole if isinstance(journal, PartialJournal) else None

    def read(self, operation: str, key: str, fn: Read[T], *, timeout: float | None, allow_stale: bool) -> T:
        """``fn`` on the best store that holds the newest version of ``key``."""
        return self._read(operation, key, fn, timeout=timeout, allow_stale=allow_stale)[0]

    def read_from(
        self, operation: str, key: str, fn: Read[T], *, timeout: float | None, allow_stale: bool
    ) -> tuple[T, str]:
        """`read`, and the name of the store that answered."""
        return self._read(operation, key, fn, timeout=timeout, allow_stale=allow_stale)

    def get(
        self, key: str, byte_range: tuple[int, int | None] | None, *, timeout: float | None, allow_stale: bool
    ) -> ObjectReader:
        """A streaming reader that resumes on another store if the connection breaks mid-body."""

        def open_reader(store: ObjectStore, attempt_timeout: float) -> ObjectReader:
            return _started(store.get(key, byte_range=byte_range, timeout=attempt_timeout))

        reader, endpoint = self._read("get", key, open_reader, timeout=timeout, allow_stale=allow_stale)
        reader.info = replace(reader.info, store=endpoint)
        if reader.info.version is None or reader.info.sha256 is None:
            return reader  # written outside failover: nothing proves another copy is the same object
        resuming = _Resuming(self, key, reader, endpoint, byte_range)
        return ObjectReader(reader.info, iter(resuming), close=resuming.close)

    def list(self, prefix: str, delimiter: str | None, *, timeout: float | None) -> Iterator[ListEntry]:
        """The listing of one store, corrected by the journal (`overlay`): one with nothing pending
        under ``prefix`` if any is up, else the best one.

        The first page is fetched inside the failover loop; a failure on a later page is raised.
        """

        def first_page(store: ObjectStore, attempt_timeout: float) -> tuple[ListEntry | None, Iterator[ListEntry]]:
            entries = store.list(prefix, delimiter=delimiter, timeout=attempt_timeout)
            return next(entries, None), entries

        engine = self._engine
        deadline = Deadline(timeout if timeout is not None else engine.settings.deadline, engine.clock)
        items = self._journal.newest_under(prefix)  # before the listing: see `overlay`
        behind = frozenset(item.store for item in items)
        try:
            outcome = engine.call("list", first_page, timeout=deadline.remaining(), skip=behind)
        except AllProvidersFailed:
            if not behind or not deadline.can_start_attempt():
                raise
            outcome = engine.call("list", first_page, timeout=deadline.remaining(), only=tuple(behind))
        first, rest = outcome.value
        return overlay(_chain(first, rest), items, outcome.endpoint, prefix, delimiter)

    # -- the routing ---------------------------------------------------------------------------------

    def _read(
        self, operation: str, key: str, fn: Read[T], *, timeout: float | None, allow_stale: bool
    ) -> tuple[T, str]:
        if self._in_whole is None:
            stale = self._journal.newest_pending(key)
        else:
            stale, whole = self._in_whole(key)
            if not whole:
                deadline = Deadline(
                    timeout if timeout is not None else self._engine.settings.deadline, self._engine.clock
                )
                stale = self._behind_the_newest(operation, key, stale, deadline, allow_stale)
                timeout = max(deadline.remaining(), 0.001)
        try:
            outcome = self._engine.hedged(operation, fn, timeout=timeout, skip=stale)
        except AllProvidersFailed as failed:
            if not stale:
                raise
            reachable = [name for name in self._engine.names if name in stale and self._engine.is_available(name)]
            if not allow_stale:
                if not reachable:
                    raise
                raise StaleReadRisk(
                    f"every store that holds the newest version of the key is unreachable; "
                    f"{', '.join(sorted(stale))} may serve an older one (pass allow_stale=True to accept it)",
                    operation=operation,
                    key=key,
                ) from failed
            value, endpoint = self._stale_read(operation, key, fn, stale, timeout, failed)
        else:
            value, endpoint = outcome.value, outcome.endpoint
        self._observe(value)
        return value, endpoint

    def _behind_the_newest(
        self, operation: str, key: str, stale: frozenset[str], deadline: Deadline, allow_stale: bool
    ) -> frozenset[str]:
        """``stale`` and the stores found behind another. The journal's answer is not whole (another
        process's newest version may be pending unseen), so every other store is asked for its
        version (one whose circuit is open, once: its circuit may be stale too), and one without the
        key or with an older version than another's is skipped. When a store does not answer, none
        of the others can be known to be newest: `StaleReadRisk`, unless ``allow_stale``."""
        engine = self._engine
        versions: dict[str, str] = {}
        silent: list[str] = []

        def version(store: ObjectStore, attempt_timeout: float) -> str:
            return store.head(key, timeout=attempt_timeout).version or ""

        for name in engine.names:
            if name in stale:
                continue
            if not deadline.can_start_attempt():
                silent.append(name)
                continue
            try:
                versions[name] = engine.call("head", version, timeout=deadline.remaining(), only=(name,)).value
            except NotFound:
                versions[name] = ""
            except FailoverError:
                silent.append(name)
        if silent and not allow_stale:
            raise StaleReadRisk(
                f"the journal cannot say which store holds the newest version now (its shared database is "
                f"away), and {', '.join(silent)} did not answer (pass allow_stale=True to accept an older one)",
                operation=operation,
                key=key,
            )
        newest = max(versions.values(), default="")
        return stale | {name for name, held in versions.items() if held < newest}

    def _stale_read(
        self,
        operation: str,
        key: str,
        fn: Read[T],
        stale: frozenset[str],
        timeout: float | None,
        failed: AllProvidersFailed,
    ) -> tuple[T, str]:
        """Ask the stores that may be stale, in routing order; their NotFound is not an answer."""
        engine = self._engine
        deadline = Deadline(timeout if timeout is not None else engine.settings.deadline, engine.clock)
        errors: list[FailoverError] = list(failed.errors)
        missing = False
        for name in engine.router.order():
            if name not in stale or not deadline.can_start_attempt():
                continue
            try:
                return engine.call(operation, fn, timeout=deadline.remaining(), only=(name,)).value, name
            except NotFound as exc:
                missing = True
                errors.append(exc)
            except AllProvidersFailed as exc:
                errors.extend(exc.errors)
        if missing:
            raise StaleReadRisk(
                "the key is acknowledged but no reachable store has received it yet", operation=operation, key=key
            ) from failed
        raise AllProvidersFailed(f"{operation} failed on every provider", errors=errors, operation=operation, key=key)

    def _observe(self, value: object) -> None:
        info = value.info if isinstance(value, ObjectReader) else value
        # A later write of ours must be newer than what we saw. Stamps compare as text, so only one
        # newer than any seen before is parsed; a stamp this library did not write is ignored.
        if isinstance(info, ObjectInfo) and info.version and info.version > self._newest_seen:
            self._newest_seen = info.version
            with contextlib.suppress(ValueError):
                self._hlc.observe(info.version)


class _Resuming:
    """The chunks of one object version, reopened at the offset reached when a connection breaks."""

    def __init__(
        self,
        reads: Reads,
        key: str,
        reader: ObjectReader,
        endpoint: str,
        byte_range: tuple[int, int | None] | None,
    ) -> None:
        self._reads = reads
        self._key = key
        self._reader = reader
        self._endpoint = endpoint
        self._offset, self._stop = byte_range or (0, None)
        self._resumes_left = len(reads._engine.names) + 1

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                for chunk in self._reader:
                    self._offset += len(chunk)
                    yield chunk
                return
            except FailoverError as exc:
                if classify(exc) is Disposition.FATAL or self._resumes_left <= 0:
                    raise
                engine = self._reads._engine
                engine.record(self._endpoint, 0.0, exc)  # the breaker hears of it like any failed call
                self._resumes_left -= 1
                self._reader.close()
                if self._stop is not None and self._offset >= self._stop:
                    return
                self._reopen(exc)

    def _reopen(self, cause: FailoverError) -> None:
        expected = self._reader.info
        span = (self._offset, self._stop)

        def open_rest(store: ObjectStore, attempt_timeout: float) -> ObjectReader:
            return _started(store.get(self._key, byte_range=span, timeout=attempt_timeout))

        stale = self._reads._journal.newest_pending(self._key)
        outcome = self._reads._engine.call("get", open_rest, skip=stale)
        reader = outcome.value
        if reader.info.version != expected.version or reader.info.sha256 != expected.sha256:
            reader.close()
            raise cause  # the object changed meanwhile: its first bytes were of another version
        self._reader, self._endpoint = reader, outcome.endpoint

    def close(self) -> None:
        self._reader.close()


def _started(reader: ObjectReader) -> ObjectReader:
    """``reader`` with its first chunk fetched (inside the attempt that opened it), then the rest."""
    chunks = iter(reader)
    try:
        first = next(chunks, None)
    except BaseException:
        reader.close()
        raise
    body = chunks if first is None else itertools.chain((first,), chunks)
    return ObjectReader(reader.info, body, close=reader.close)


def _chain(first: ListEntry | None, rest: Iterator[ListEntry]) -> Iterator[ListEntry]:
    if first is None:
        return
    yield first
    yield from rest

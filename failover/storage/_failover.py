"""`FailoverStorage`: one `ObjectStore` over several, failing over between them without losing a write."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from functools import partial
from types import MappingProxyType, TracebackType
from typing import BinaryIO, Final, Literal, Self, cast

from failover.adapters._common import ETAG_KEY
from failover.clock import Clock
from failover.config import FailoverConfig, load_config
from failover.engine import Engine, EngineSettings
from failover.errors import ConfigError, InvalidRequest
from failover.fleet import Fleet
from failover.health import FailoverListener, HealthRegistry, HealthStore, StateChangeListener
from failover.interfaces import Capabilities, Data, ListEntry, ObjectInfo, ObjectReader, ObjectStore
from failover.keys import (
    validate_body,
    validate_byte_range,
    validate_content_type,
    validate_key,
    validate_listing,
    validate_metadata,
    validate_timeout,
)
from failover.policy import Deadline
from failover.reader import read_within
from failover.replication import (
    HybridClock,
    Journal,
    ProgressCallback,
    ReplicationStats,
    Replicator,
    SqliteJournal,
    random_writer_id,
)
from failover.replication.state import default_journal_path
from failover.storage._body import ReplayableBody
from failover.storage._build import build_stores, common_capabilities
from failover.storage._inflight import InFlight
from failover.storage._locks import KeyLocks
from failover.storage._measured import MeasuredStore
from failover.storage._reads import Reads
from failover.storage._writes import Mode, Writes
from failover.telemetry import instrument_if_enabled

__all__ = ["PROBE_KEY", "PROVIDER", "FailoverStorage", "default_quorum"]

PROVIDER: Final = "failover"
PROBE_KEY: Final = "failover-probe/canary"
"""What the probers read on a DOWN store; a NotFound answer, or a refusal by policy, proves it reachable."""


_CALLER_RESERVED: Final = frozenset({ETAG_KEY})


def _probe(store: ObjectStore, timeout: float) -> object:
    # A GET, not a HEAD: S3 answers a HEAD with no body, so its 403 cannot tell rejected credentials
    # (still down) from a least-privilege role refused the canary (up); a GET's error code can.
    store.get(PROBE_KEY, byte_range=(0, 1), timeout=timeout).close()
    return None


def _name_of(store: ObjectStore) -> str:
    return store.name


class FailoverStorage:
    """An `ObjectStore` over ``stores`` (in order of preference) that fails over between them.

    Every call goes through the failover `Engine`: a FATAL answer (NotFound, PreconditionFailed,
    InvalidRequest) returns at once, a failing store is left for the next inside the call's deadline
    (``settings.deadline``, 10 s by default; ``timeout=`` on a call overrides it), and when every
    store failed, `AllProvidersFailed` lists each store's error. Requests are validated before any
    store is called.

    Writes (``mode``):

    - ``"primary"``: the first store that acknowledges the write takes it; success is returned once
      the journal durably records every other store as pending. The replicator copies it there in
      the background.
    - ``"mirror"``: every available store is written in parallel, inside the call's one deadline;
      success is returned as soon as ``write_quorum`` stores acknowledged it and the journal
      records the others as pending (the slower writes finish in the background, and mark their
      store done when they succeed). The default quorum is ``min(2, stores - 1)`` (at least 1): 1
      of 2, 2 of 3 or more, so one store down never stops the writes (`default_quorum`). With fewer
      acknowledgements, `AllProvidersFailed` is raised, but the copies that were made stay and are
      journaled, so replication completes them: a write reported as failed may still appear.

    Each object carries a version stamp (``failover_version``, a hybrid logical clock of
    ``writer_id``) and its sha256; replication never puts an older version over a newer one. A put
    that timed out on a store after sending (`OutcomeUnknown`) goes on to the next store with the
    same stamp, and the uncertain store stays pending in the journal until the replicator has
    compared stamps there; it is reported as a success only when a store acknowledged it.

    Writes and deletes of one key through this instance take turns (from the stamp to the journal
    entry), and the replicator applies an item of a key only between them, so concurrent writers
    of a key leave its newest stamp on every store. Writes of other keys, and reads, never wait.
    Writers of one key in several processes are not serialized, even on a shared journal: a write
    the journal refuses as older than another writer's is logged as a warning, and `repair`
    converges the stores.

    Conditions (``if_none_match`` / ``if_match``) are checked by the one store that takes the write
    (in mirror mode, that store first, then the others unconditionally): across providers a
    condition is checked on the primary only, and an etag is one provider's.

    Reads are read-your-writes: a store the journal says may lack the newest version of a key is
    not read, and when only such stores are reachable `StaleReadRisk` is raised unless the read
    passes ``allow_stale=True``. With ``settings.hedge`` set, reads are hedged.

    ``delete`` writes a tombstone: deleted on one store (every available store, in mirror mode) and
    journaled for the others. ``copy`` reads the source (read-your-writes) and writes the copy as a
    new version with a new stamp, streaming through this process: a server-side copy would keep the
    source's stamp, and a copy older than what it replaced would lose to it on every other store.
    ``list`` answers from one store (one with nothing pending under the prefix, if one is up),
    corrected by the journal: a key whose newest journaled operation is a delete is never listed,
    and one whose newest version is journaled as acknowledged is listed even where that store has
    not received it yet (with its journaled size, sha256 and stamp).

    ``journal`` is a `Journal`, or the path of a SQLite journal. Without one, the journal is a SQLite
    file in the state directory (``$FAILOVER_STATE_DIR``, else ``$XDG_STATE_HOME/failover`` or
    ``~/.local/state/failover``; see `failover.replication.state`) named after the set of store names:
    the next instance over the same stores, in this process or another, opens the same journal and
    replicates what this one left pending. `close` never deletes a journal.

    Replication runs in a background thread with up to ``replication_concurrency`` copies in flight
    per store (2 by default: with one lane, one writer on the emulators here put 27-29 objects a
    second and the replicator copied 7-8 a second to each other store; with two, 17 and 16; four
    lanes kept up too but made the stores' latency EWMA trip brownout detection). An
    item that keeps failing for a reason of its own goes to the journal's dead letters after
    ``replicator.max_attempts`` attempts (`failover status` lists them, `failover replay
    --retry-dead` tries them again).
    """

    def __init__(
        self,
        stores: Sequence[ObjectStore],
        *,
        mode: Mode = "primary",
        write_quorum: int | None = None,
        journal: Journal | str | os.PathLike[str] | None = None,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        writer_id: str | None = None,
        replicate: bool = True,
        on_progress: ProgressCallback | None = None,
        replication_concurrency: int = 2,
        health_store: HealthStore | None = None,
        executor: futures.ThreadPoolExecutor | None = None,
    ) -> None:
        stores = list(stores)
        if not stores:
            raise ConfigError("FailoverStorage needs at least one store", field="stores")
        if mode not in ("primary", "mirror"):
            raise ConfigError(f'mode is "primary" or "mirror", not {mode!r}', field="mode")
        quorum = _quorum(mode, write_quorum, len(stores))
        try:
            self._hlc = HybridClock(writer_id if writer_id is not None else random_writer_id())
        except ValueError as exc:
            raise ConfigError(str(exc), field="writer_id") from None
        self._stores: dict[str, ObjectStore] = {store.name: store for store in stores}
        self._capabilities, self._size_limited_by = common_capabilities(stores)
        self._name = "failover:" + "+".join(store.name for store in stores)
        self._engine: Engine[ObjectStore] = Engine(
            stores,
            name_of=_name_of,
            probe=_probe,
            settings=settings,
            clock=clock,
            executor=executor,
            health_store=health_store,
        )
        self._owns_journal = not _is_journal(journal)
        try:
            self._journal = self._open_journal(journal)
        except BaseException:
            self._engine.close()
            raise
        # Writers of a key and the replicator's copies of it take turns (see `KeyLocks`); reads take no lock.
        # The replicator also waits for a mirror write of the key still running in the background, and
        # writers leave out a store a conditional copy of the key runs on (``copying``).
        locks = KeyLocks()
        inflight = InFlight()
        copying = InFlight()
        self.replicator = Replicator(
            {name: MeasuredStore(store, self._engine) for name, store in self._stores.items()},
            self._journal,
            clock=self._engine.clock,
            on_progress=on_progress,
            is_available=partial(self._engine.is_available, background=True),
            key_lock=inflight.guard(locks),
            occupy=partial(copying.occupy, key_lock=locks),
            concurrency=replication_concurrency,
        )
        self._writes = Writes(
            self._engine,
            self._journal,
            self._hlc,
            mode=mode,
            quorum=quorum,
            journaled=self.replicator.wake,
            locks=locks,
            inflight=inflight,
            copying=copying,
        )
        self._reads = Reads(self._engine, self._journal, self._hlc)
        self._fleet: Fleet | None = None  # opened by `from_config` for a ``[fleet]``: closed with this
        self._closed = False
        if replicate:
            self.replicator.start()

    @classmethod
    def from_config(
        cls,
        config: FailoverConfig,
        *,
        journal: Journal | str | os.PathLike[str] | None = None,
        replicate: bool | None = None,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> FailoverStorage:
        """A `FailoverStorage` over ``config.stores`` (in order) as ``config.storage`` and ``config.engine`` say.

        ``journal``, ``replicate`` and ``settings``, when given, replace the configuration's; ``clock``
        and ``on_progress`` are for tests and progress bars. The stores built here are closed by `close`.
        With ``mode = "mirror"`` and no ``write_quorum``, a write is acknowledged once
        ``min(2, stores - 1)`` stores hold it (at least 1; see `default_quorum`): a two-store mirror
        acknowledges at one copy plus the journal entry for the other, so that either store being
        down does not stop the writes; set ``write_quorum = 2`` to require both copies.
        """
        section = config.storage
        settings = settings if settings is not None else config.storage_engine().build()
        stores = build_stores(config)
        fleet: Fleet | None = None
        try:
            if journal is None and config.fleet is not None:
                fleet = Fleet(
                    config.fleet,
                    state_dir=config.state_dir,
                    monotonic=clock.monotonic if clock is not None else time.monotonic,
                )
                journal = fleet.journal
            if journal is None:
                journal = section.journal
            if journal is None and config.state_dir is not None:
                journal = default_journal_path([store.name for store in stores], directory=config.state_dir)
            storage = cls(
                stores,
                mode=section.mode,
                write_quorum=section.write_quorum,
                journal=journal,
                settings=settings,
                clock=clock,
                writer_id=section.writer_id,
                replicate=section.replicate if replicate is None else replicate,
                on_progress=on_progress,
                health_store=fleet.health if fleet is not None else None,  # one circuit per endpoint, fleet-wide
            )
        except BaseException:
            for store in stores:
                store.close()
            if fleet is not None:
                fleet.close()
            raise
        storage._fleet = fleet  # closed by `close`, after the replicator that uses its journal
        instrument_if_enabled(storage, config.telemetry)
        return storage

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = None,
        journal: Journal | str | os.PathLike[str] | None = None,
        replicate: bool | None = None,
    ) -> FailoverStorage:
        """`from_config` of `load_config`: the TOML file ``path`` (else ``$FAILOVER_CONFIG``) and ``FAILOVER__*``."""
        return cls.from_config(load_config(path, env_file=env_file), journal=journal, replicate=replicate)

    # -- what it is ----------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def capabilities(self) -> Capabilities:
        """What every store can do (the smallest object size limit); its copy is never server-side."""
        return self._capabilities

    @property
    def stores(self) -> Mapping[str, ObjectStore]:
        """The stores by name, in order of preference."""
        return MappingProxyType(self._stores)

    @property
    def mode(self) -> Mode:
        return self._writes.mode

    @property
    def write_quorum(self) -> int:
        return self._writes.quorum

    @property
    def engine(self) -> Engine[ObjectStore]:
        return self._engine

    @property
    def health(self) -> HealthRegistry:
        return self._engine.health

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    @property
    def journal(self) -> Journal:
        return self._journal

    def on_state_change(self, listener: StateChangeListener) -> StateChangeListener:
        """Call ``listener(store, old, new, reason)`` on every health state change; returns it."""
        self._engine.health.events.on_state_change.append(listener)
        return listener

    def on_failover(self, listener: FailoverListener) -> FailoverListener:
        """Call ``listener(from_store, to_store or None, operation, error)`` on every failover; returns it."""
        self._engine.health.events.on_failover.append(listener)
        return listener

    # -- the ObjectStore -----------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: Literal["*"] | None = None,
        if_match: str | None = None,
        timeout: float | None = None,
    ) -> ObjectInfo:
        validate_key(key)
        # failover_* names are reserved for this layer; the drop-in's S3 ETag is the caller's to write
        user = validate_metadata(metadata, reserved_allowed=_CALLER_RESERVED)
        validate_content_type(content_type)
        _check_conditions(key, if_none_match, if_match)
        validate_timeout(timeout)
        validate_body(data)
        body = ReplayableBody(
            data,
            max_size=self._capabilities.max_object_size,
            provider=self._size_limited_by,
            in_place=self.mode == "primary",  # mirror writes may outlive the call: never read the caller's file then
        )
        try:
            info = self._writes.put(
                key,
                body,
                content_type=content_type,
                metadata=user,
                if_none_match=if_none_match,
                if_match=if_match,
                timeout=timeout,
            )
        finally:
            body.close()
        return _public(info)

    def get(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
        allow_stale: bool = False,
    ) -> ObjectReader:
        validate_key(key)
        span = validate_byte_range(byte_range)
        validate_timeout(timeout)
        _check_flag("allow_stale", allow_stale)
        reader = self._reads.get(key, span, timeout=timeout, allow_stale=allow_stale)
        reader.info = _public(reader.info)
        return reader

    def get_bytes(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
        allow_stale: bool = False,
    ) -> bytes:
        validate_key(key)
        span = validate_byte_range(byte_range)
        validate_timeout(timeout)
        _check_flag("allow_stale", allow_stale)

        # The whole transfer, not only each socket read, is bounded by the call's deadline.
        deadline = Deadline(timeout if timeout is not None else self._engine.settings.deadline, self._engine.clock)

        def read(store: ObjectStore, attempt_timeout: float) -> bytes:
            with store.get(key, byte_range=span, timeout=attempt_timeout) as reader:
                return read_within(reader, deadline, key=key)

        return self._reads.read("get", key, read, timeout=timeout, allow_stale=allow_stale)

    def head(self, key: str, *, timeout: float | None = None, allow_stale: bool = False) -> ObjectInfo:
        validate_key(key)
        validate_timeout(timeout)
        _check_flag("allow_stale", allow_stale)

        def head(store: ObjectStore, attempt_timeout: float) -> ObjectInfo:
            return store.head(key, timeout=attempt_timeout)

        info, endpoint = self._reads.read_from("head", key, head, timeout=timeout, allow_stale=allow_stale)
        return _public(info, endpoint)

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        validate_key(key)
        validate_timeout(timeout)
        if if_match is not None:
            raise InvalidRequest(
                "FailoverStorage cannot delete conditionally: an etag is one store's",
                rule="conditional_delete",
                imposed_by="failover",
                key=key,
            )
        self._writes.delete(key, timeout=timeout)

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        prefix, delimiter = validate_listing(prefix, delimiter)
        validate_timeout(timeout)
        entries = self._reads.list(prefix, delimiter, timeout=timeout)
        return (_public(entry) if isinstance(entry, ObjectInfo) else entry for entry in entries)

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        validate_timeout(timeout)
        with self.get(src, timeout=timeout) as reader:
            source = reader.info
            # A non-seekable binary stream (read(n) is all a body needs): spooled once, then sent.
            body = cast(BinaryIO, reader)
            return self.put(dst, body, content_type=source.content_type, metadata=source.metadata, timeout=timeout)

    # -- replication and life cycle ------------------------------------------------------------------

    def drain(self, timeout: float | None = None) -> ReplicationStats:
        """Replicate now everything that can be, and return (see `Replicator.drain`).

        Every store with a backlog is tried, even one whose circuit has not closed yet after a
        recovery; an item that fails is left for the background (rescheduled, or dead-lettered after
        ``replicator.max_attempts``) and a store that fails is left for the rest of the drain. So
        ``drain()`` returns once nothing it could still do is left, and ``drain(timeout=t)`` within
        ``t`` seconds, with copies in flight finishing in the background. The background replicator
        keeps running meanwhile; the two never apply one item at once. Mirror writes still running in
        the background are waited for first (within ``timeout``): what they leave pending is then
        drained too, instead of racing them.
        """
        validate_timeout(timeout)
        deadline = None if timeout is None else Deadline(timeout, self._engine.clock)
        self._writes.wait(timeout)
        return self.replicator.drain(timeout=None if deadline is None else max(deadline.remaining(), 0.001))

    def wait_for_writes(self, timeout: float | None = None) -> bool:
        """Wait until no mirror write runs in the background (each ends by its call's deadline).

        False if ``timeout`` seconds passed first. Mirror mode only has such writes (see ``mode``).
        """
        return self._writes.wait(timeout)

    def close(self) -> None:
        """Stop the replicator and the probers, and close the stores and the journal it opened."""
        if self._closed:
            return
        self._closed = True
        # Mirror writes still running in the background end within their calls' deadlines.
        self._writes.close(timeout=self._engine.settings.deadline)
        self.replicator.stop()
        self._engine.close()
        for store in self._stores.values():
            store.close()
        if self._owns_journal:
            self._journal.close()  # the file stays: its backlog is the next instance's
        if self._fleet is not None:
            self._fleet.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={state.value}" for name, state in self._engine.health.states().items())
        return f"FailoverStorage({self.mode}, {states})"

    def _open_journal(self, journal: Journal | str | os.PathLike[str] | None) -> Journal:
        if journal is None:
            return SqliteJournal(default_journal_path(self._stores))
        if isinstance(journal, str | os.PathLike):
            return SqliteJournal(journal)
        return journal


def _public(info: ObjectInfo, store: str | None = None) -> ObjectInfo:
    """What a caller sees: the answering store's record (``store`` names it, when given here), from
    provider "failover", its etag the version stamp (the same on every store, so that ``if_match``
    works whichever store takes the next write).

    Built field by field rather than with `dataclasses.replace` (a quarter of the cost, on every
    read); the unit tests check that every field of `ObjectInfo` comes through.
    """
    return ObjectInfo(
        info.key,
        info.size,
        PROVIDER,
        info.content_type,
        info.metadata,
        info.last_modified,
        info.version or info.etag,
        info.sha256,
        info.version,
        info.store if store is None else store,
    )


def _is_journal(journal: object) -> bool:
    return journal is not None and not isinstance(journal, str | os.PathLike)


def default_quorum(stores: int) -> int:
    """A mirror's default write quorum: two copies where three or more stores can give them, else one.

    ``min(2, stores - 1)``, at least 1: one store down never stops the writes (a two-store mirror
    with a quorum of 2 rejected every write while either store was down). A write acknowledged by
    one store is as durable as a primary-mode write: the journal holds it for the other store
    before the ack. Pass ``write_quorum=2`` to a two-store mirror for two copies before every ack,
    at the price of refusing writes while either store is down.
    """
    return max(1, min(2, stores - 1))


def _quorum(mode: Mode, write_quorum: int | None, stores: int) -> int:
    if write_quorum is None:
        return default_quorum(stores) if mode == "mirror" else 1
    if mode != "mirror":
        raise ConfigError("write_quorum applies to mode='mirror' only", field="write_quorum")
    if not isinstance(write_quorum, int) or isinstance(write_quorum, bool) or not 1 <= write_quorum <= stores:
        raise ConfigError(
            f"write_quorum is between 1 and {stores} (the stores), not {write_quorum}", field="write_quorum"
        )
    return write_quorum


def _check_flag(name: str, value: object) -> None:
    # A truthy string ("no") would otherwise switch the flag on.
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} is True or False, not {value!r}", rule=name, imposed_by="failover")


def _check_conditions(key: str, if_none_match: object, if_match: object) -> None:
    if if_none_match not in (None, "*"):
        raise InvalidRequest(
            f"if_none_match takes only '*', not {if_none_match!r}", rule="if_none_match", imposed_by="failover", key=key
        )
    if if_match is not None and (not isinstance(if_match, str) or not if_match):
        raise InvalidRequest("if_match takes a non-empty etag", rule="if_match", imposed_by="failover", key=key)
    if if_none_match is not None and if_match is not None:
        raise InvalidRequest(
            "if_none_match and if_match exclude each other", rule="conditions", imposed_by="failover", key=key
        )

"""FailoverStorage reads: read-your-writes across stores, StaleReadRisk, hedging, resumed streams, listing."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator

import pytest

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.engine import EngineSettings
from failover.errors import (
    AllProvidersFailed,
    Disposition,
    NotFound,
    ProviderUnavailable,
    Reason,
    StaleReadRisk,
)
from failover.interfaces import ObjectInfo
from failover.reader import ObjectReader
from failover.replication import HybridClock
from failover.routing import HedgePolicy
from failover.storage import FailoverStorage
from failover.storage._failover import _public
from failover.testing.faulty import refused
from tests.unit.storage_rig import SETTINGS, Rig, rig

Read = Callable[[FailoverStorage, str], object]
READS: dict[str, Read] = {
    "get": lambda storage, key: storage.get(key).read(),
    "get_bytes": lambda storage, key: storage.get_bytes(key),
    "head": lambda storage, key: storage.head(key).version,
}
STALE_READS: dict[str, Read] = {
    "get": lambda storage, key: storage.get(key, allow_stale=True).read(),
    "get_bytes": lambda storage, key: storage.get_bytes(key, allow_stale=True),
    "head": lambda storage, key: storage.head(key, allow_stale=True).version,
}


@pytest.fixture
def two() -> Iterator[Rig]:
    yield from rig()


@pytest.fixture
def three() -> Iterator[Rig]:
    yield from rig(names=("aws", "gcp", "azure"))


def calls_of(made: Rig, name: str) -> int:
    store = made.stores[name]
    return store.calls["get"] + store.calls["get_bytes"] + store.calls["head"]


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_a_store_that_missed_the_newest_version_is_not_read(two: Rig, read: Read) -> None:
    two.storage.put("k", b"v1")
    two.storage.drain()
    two.aws.fail(refused())
    v2 = two.storage.put("k", b"v2")
    two.recover("aws")  # aws is HEALTHY and first again, but still holds v1
    two.aws.reset_counts()
    value = read(two.storage, "k")
    assert value in (b"v2", v2.version), f"read {value!r}, the acknowledged write was v2"
    assert calls_of(two, "aws") == 0, "a store the journal says is stale was read"
    two.storage.drain()
    two.aws.reset_counts()
    assert read(two.storage, "k") in (b"v2", v2.version)
    assert calls_of(two, "aws") == 1, "after replication the first store should serve again"


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_only_stale_stores_reachable_raises_stale_read_risk(two: Rig, read: Read) -> None:
    two.storage.put("k", b"v1")
    two.storage.drain()
    two.aws.fail(refused())
    two.storage.put("k", b"v2")
    two.recover("aws")
    two.gcp.fail(refused())
    two.aws.reset_counts()
    with pytest.raises(StaleReadRisk) as caught:
        read(two.storage, "k")
    assert caught.value.key == "k"
    assert calls_of(two, "aws") == 0, "the stale copy was read although it cannot be returned"


@pytest.mark.parametrize("read", STALE_READS.values(), ids=STALE_READS.keys())
def test_allow_stale_serves_the_older_copy(two: Rig, read: Read) -> None:
    v1 = two.storage.put("k", b"v1")
    two.storage.drain()
    two.aws.fail(refused())
    two.storage.put("k", b"v2")
    two.recover("aws")
    two.gcp.fail(refused())
    assert read(two.storage, "k") in (b"v1", v1.version)


def test_a_not_found_from_a_store_that_has_not_received_the_key_is_not_an_answer(three: Rig) -> None:
    three.aws.fail(refused())
    v1 = three.storage.put("k", b"v1")  # lands on gcp
    three.storage.drain()  # and reaches azure; aws never had the key
    three.storage.put("k", b"v2")  # on gcp only: aws and azure are both pending now
    three.recover("aws")
    three.gcp.fail(refused())
    three.aws.reset_counts()  # the probe's read of the canary
    assert three.storage.get_bytes("k", allow_stale=True) == b"v1"
    assert three.aws.calls["get"] == 1, "the store without the key was not asked first"
    assert three.storage.head("k", allow_stale=True).version == v1.version


def test_allow_stale_with_no_reachable_copy_at_all_raises_stale_read_risk(two: Rig) -> None:
    two.aws.fail(refused())
    two.storage.put("new", b"only on gcp")
    two.recover("aws")
    two.gcp.fail(refused())
    two.aws.reset_counts()  # the probe's read of the canary
    with pytest.raises(StaleReadRisk, match="no reachable store has received it"):
        two.storage.get_bytes("new", allow_stale=True)
    assert two.aws.calls["get"] == 1


def test_nothing_reachable_is_all_providers_failed_not_stale_read_risk(two: Rig) -> None:
    two.aws.fail(refused())
    two.storage.put("k", b"v")
    two.gcp.fail(refused())
    with pytest.raises(AllProvidersFailed):
        two.storage.get_bytes("k")


def test_a_key_never_written_through_failover_is_read_from_the_first_store(two: Rig) -> None:
    two.aws.inner.put("outside", b"written directly")
    assert two.storage.get_bytes("outside") == b"written directly"
    with pytest.raises(NotFound):
        two.storage.get_bytes("nowhere")
    assert calls_of(two, "gcp") == 0, "a NotFound from a store that is not pending is the answer"


def test_a_newer_stamp_read_from_a_store_moves_this_writers_clock_past_it(two: Rig) -> None:
    future = str(HybridClock("other").now()).replace("0", "f", 1)
    two.aws.inner.put("k", b"from another writer", metadata={"failover_version": future})
    assert two.storage.head("k").version == future
    assert (two.storage.put("k", b"ours").version or "") > future, "our write would lose to an older one"


class _Gate(MemoryStore):
    """Its reads wait until the gate opens (a slow provider), for real: hedging waits on threads."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = threading.Event()
        self.reads = 0

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        self.reads += 1
        self.gate.wait(10.0)
        return super().get(key, byte_range=byte_range)


def test_hedged_read_takes_the_second_store_when_the_first_is_slow() -> None:
    slow, fast = _Gate("slow"), _Gate("fast")
    fast.gate.set()
    settings = EngineSettings(start_probers=False, hedge=HedgePolicy(delay=0.01, budget_ratio=1.0))
    storage = FailoverStorage([slow, fast], settings=settings, clock=ManualClock(), replicate=False)
    try:
        slow.gate.set()
        storage.put("k", b"hedged")
        storage.drain()
        slow.gate.clear()
        slow.reads = fast.reads = 0  # the replicator read the source
        assert storage.get_bytes("k") == b"hedged"
        assert (slow.reads, fast.reads) == (1, 1), "the read was not hedged to the second store"
    finally:
        slow.gate.set()
        storage.close()


class _BreaksMidBody(MemoryStore):
    """A store whose streams break after ``cut`` bytes, ``breaks`` times; then it serves, or refuses."""

    def __init__(self, name: str, cut: int = 0, breaks: int = 0, *, refuse_after: bool = False) -> None:
        super().__init__(name)
        self.cut = cut
        self.breaks = breaks
        self.refuse_after = refuse_after
        self.ranges: list[tuple[int, int | None] | None] = []

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        self.ranges.append(byte_range)
        reader = super().get(key, byte_range=byte_range)
        if self.breaks <= 0:
            if self.refuse_after:
                raise refused()
            return reader
        self.breaks -= 1
        data = reader.read()

        def chunks() -> Iterator[bytes]:
            yield data[: self.cut]
            raise ProviderUnavailable("reset mid-body", reason=Reason.RESET, disposition=Disposition.RETRY)

        return ObjectReader(reader.info, chunks())


def test_a_stream_broken_mid_body_resumes_from_its_offset_on_another_store() -> None:
    first = _BreaksMidBody("first", cut=4, breaks=1, refuse_after=True)
    second = _BreaksMidBody("second")
    storage = FailoverStorage([first, second], mode="mirror", settings=SETTINGS, clock=ManualClock(), replicate=False)
    try:
        storage.put("k", b"0123456789")
        with storage.get("k") as reader:
            assert reader.read() == b"0123456789"
        assert first.ranges == [None, (4, None)]
        assert second.ranges == [(4, None)], "the rest was not read from the offset reached, on the other store"
    finally:
        storage.close()


def test_a_resumed_stream_of_a_range_keeps_its_end() -> None:
    first = _BreaksMidBody("first", cut=2, breaks=1)
    storage = FailoverStorage([first, MemoryStore("second")], settings=SETTINGS, clock=ManualClock(), replicate=False)
    try:
        storage.put("k", b"0123456789")
        assert storage.get("k", byte_range=(3, 8)).read() == b"34567"
        assert first.ranges == [(3, 8), (5, 8)]
    finally:
        storage.close()


class _ReplacedWhenOpened(MemoryStore):
    """Runs ``on_open`` once, after a get found the object and before its first byte; that reader then
    fails as GCS's does when the generation it pinned is replaced: retryably, with no bytes."""

    on_open: Callable[[], object] | None = None

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        reader = super().get(key, byte_range=byte_range)
        if self.on_open is None:
            return reader
        hook, self.on_open = self.on_open, None
        hook()

        def gone() -> Iterator[bytes]:
            raise ProviderUnavailable("the object changed while it was read", disposition=Disposition.RETRY)
            yield b""  # pragma: no cover

        return ObjectReader(reader.info, gone())


def test_a_get_whose_object_is_replaced_before_its_first_byte_streams_the_new_version() -> None:
    first = _ReplacedWhenOpened("first")
    storage = FailoverStorage([first, MemoryStore("second")], settings=SETTINGS, clock=ManualClock(), replicate=False)
    try:
        storage.put("k", b"old")
        storage.drain()
        newer: list[ObjectInfo] = []
        first.on_open = lambda: newer.append(storage.put("k", b"new"))
        with storage.get("k") as reader:
            body, version = reader.read(), reader.info.version
        assert (body, version) == (b"new", newer[0].version), "the read did not answer with the version now current"
    finally:
        storage.close()


def test_list_prefers_a_store_with_nothing_pending(two: Rig) -> None:
    two.aws.fail(refused())
    two.storage.put("a/1", b"x")  # on gcp; aws pending
    two.recover("aws")
    listed = [entry.key for entry in two.storage.list("a/") if isinstance(entry, ObjectInfo)]
    assert listed == ["a/1"]
    assert (two.aws.calls["list"], two.gcp.calls["list"]) == (0, 1)
    assert {entry.provider for entry in two.storage.list() if isinstance(entry, ObjectInfo)} == {"failover"}


def test_list_falls_back_to_a_store_that_is_behind_and_lists_what_the_journal_holds_for_it(two: Rig) -> None:
    two.storage.put("a/1", b"x")  # gcp pending
    two.aws.fail(refused())
    assert [entry.key for entry in two.storage.list("a/") if isinstance(entry, ObjectInfo)] == ["a/1"]
    assert two.gcp.calls["list"] == 1


def test_an_empty_listing_is_empty(two: Rig) -> None:
    assert list(two.storage.list("nothing/", delimiter="/")) == []


def test_the_callers_record_keeps_every_field_of_the_answering_stores_record() -> None:
    # `_public` builds the record field by field: a field added to ObjectInfo must come through too.
    values: dict[str, object] = {
        each.name: {"meta": each.name} if each.name == "metadata" else f"{each.name}-value"
        for each in dataclasses.fields(ObjectInfo)
    }
    values["size"] = 7
    info = ObjectInfo(**values)  # type: ignore[arg-type]
    assert _public(info, "b") == dataclasses.replace(info, provider="failover", etag=info.version, store="b")
    assert _public(info) == dataclasses.replace(info, provider="failover", etag=info.version)


def test_head_names_the_store_that_answered(two: Rig) -> None:
    two.storage.put("k", b"v")
    assert two.storage.head("k").store == two.storage.engine.names[0]

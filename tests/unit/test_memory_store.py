"""MemoryStore: what the contract suite leaves open (etags, capabilities, snapshots, threads)."""

from __future__ import annotations

import threading

import pytest

from failover.adapters.memory import MemoryStore
from failover.errors import InvalidRequest, PreconditionFailed
from failover.interfaces import Capabilities, ObjectInfo, ObjectStore


def test_memory_store_is_an_object_store() -> None:
    store = MemoryStore("primary")
    assert isinstance(store, ObjectStore)
    assert (store.name, store.provider) == ("primary", "memory")


def test_every_version_gets_a_new_etag_and_head_reports_it() -> None:
    store = MemoryStore()
    etags = [store.put("k", b"same bytes").etag for _ in range(3)]
    assert len(set(etags)) == 3, f"versions shared etags {etags}"
    assert store.head("k").etag == etags[-1]
    assert store.copy("k", "k2").etag not in etags, "a copy reused its source's etag"


def test_version_stamp_is_writable_and_read_back_outside_user_metadata() -> None:
    store = MemoryStore()
    info = store.put("k", b"x", metadata={"failover_version": "0000000001-w1", "app": "a"})
    assert info.version == "0000000001-w1"
    assert dict(store.head("k").metadata) == {"app": "a"}, "failover's own metadata leaked into user metadata"


def test_max_object_size_capability_is_enforced_before_storing() -> None:
    store = MemoryStore(capabilities=Capabilities(max_object_size=4))
    store.put("fits", b"1234")
    with pytest.raises(InvalidRequest) as caught:
        store.put("too-big", b"12345")
    assert caught.value.rule == "object.max_size"
    assert [entry.key for entry in store.list() if isinstance(entry, ObjectInfo)] == ["fits"]


def test_store_without_conditional_writes_refuses_conditions_instead_of_overwriting() -> None:
    store = MemoryStore(
        capabilities=Capabilities(max_object_size=100, conditional_create=False, conditional_update=False)
    )
    etag = store.put("k", b"v1").etag
    assert etag is not None
    with pytest.raises(InvalidRequest, match="conditionally"):
        store.put("k", b"v2", if_none_match="*")
    with pytest.raises(InvalidRequest, match="conditionally"):
        store.put("k", b"v2", if_match=etag)
    assert store.get_bytes("k") == b"v1"


def test_if_match_on_a_missing_key_fails_the_precondition() -> None:
    with pytest.raises(PreconditionFailed):
        MemoryStore().put("absent", b"x", if_match='"1"')


def test_an_open_reader_keeps_streaming_the_version_it_opened() -> None:
    store = MemoryStore()
    store.put("k", b"a" * 3_000_000)
    with store.get("k") as reader:
        head = reader.read(10)
        store.put("k", b"b" * 10)
        rest = reader.read()
    assert head + rest == b"a" * 3_000_000, "an overwrite changed the bytes of a read in progress"


def test_get_reader_info_describes_the_whole_object_for_a_range() -> None:
    store = MemoryStore()
    store.put("k", b"0123456789", content_type="text/plain")
    with store.get("k", byte_range=(2, 4)) as reader:
        assert reader.read() == b"23"
        assert (reader.info.size, reader.info.content_type) == (10, "text/plain")


def test_concurrent_conditional_creates_admit_exactly_one_writer() -> None:
    store = MemoryStore()
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def create(index: int) -> None:
        barrier.wait()
        try:
            store.put("lock", str(index).encode(), if_none_match="*")
        except PreconditionFailed:
            return
        winners.append(index)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1, f"{len(winners)} writers created the same key"
    assert store.get_bytes("lock") == str(winners[0]).encode()

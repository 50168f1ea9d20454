"""One call, one deadline: no part of a FailoverStorage call starts a fresh one (manual clock)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.engine import EngineSettings
from failover.errors import AllProvidersFailed
from failover.interfaces import Data, ObjectInfo
from failover.reader import ObjectReader
from failover.storage import FailoverStorage


class _Timed(MemoryStore):
    """Records each put's timeout, and takes ``seconds`` of the manual clock for it."""

    def __init__(self, name: str, clock: ManualClock, seconds: float) -> None:
        super().__init__(name)
        self.clock = clock
        self.seconds = seconds
        self.timeouts: list[float | None] = []

    def put(self, key: str, data: Data, **options: Any) -> ObjectInfo:
        self.timeouts.append(options.get("timeout"))
        self.clock.advance(self.seconds)
        return super().put(key, data, **options)


def test_a_conditional_mirror_put_gives_the_other_stores_what_is_left_of_its_deadline() -> None:
    clock = ManualClock()
    first, second = _Timed("first", clock, 0.6), _Timed("second", clock, 0.0)
    settings = EngineSettings(start_probers=False, attempt_timeout=None)
    storage = FailoverStorage(
        [first, second], mode="mirror", write_quorum=2, settings=settings, clock=clock, replicate=False
    )
    try:
        storage.put("k", b"v", if_none_match="*", timeout=1.0)
    finally:
        storage.close()
    assert first.timeouts == [pytest.approx(1.0)]
    assert second.timeouts == [pytest.approx(0.4)], "the second store's write started a new deadline"


class _Trickling(MemoryStore):
    """Streams its objects in 10 chunks, each taking ``seconds`` of the manual clock."""

    def __init__(self, name: str, clock: ManualClock, seconds: float) -> None:
        super().__init__(name)
        self.clock = clock
        self.seconds = seconds
        self.chunks_sent = 0

    def get(self, key: str, **options: Any) -> ObjectReader:
        whole = super().get(key, **options)
        data = whole.read()
        step = max(1, len(data) // 10)

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(data), step):
                self.clock.advance(self.seconds)
                self.chunks_sent += 1
                yield data[start : start + step]

        return ObjectReader(whole.info, chunks())


def test_get_bytes_from_a_trickling_store_stops_at_the_deadline() -> None:
    clock = ManualClock()
    store = _Trickling("slow", clock, 0.3)
    settings = EngineSettings(start_probers=False, attempt_timeout=None)
    storage = FailoverStorage([store], settings=settings, clock=clock, replicate=False)
    try:
        storage.put("k", bytes(1000))
        with pytest.raises(AllProvidersFailed) as caught:
            storage.get_bytes("k", timeout=1.0)
    finally:
        storage.close()
    assert store.chunks_sent == 4, f"{store.chunks_sent} chunks read with a 1 s deadline at 0.3 s each"
    assert "deadline passed" in str(caught.value)


class _SlowHead(_Timed):
    """A `_Timed` store whose head takes ``head_seconds`` of the manual clock."""

    def __init__(self, name: str, clock: ManualClock, head_seconds: float) -> None:
        super().__init__(name, clock, 0.0)
        self.head_seconds = head_seconds

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        self.clock.advance(self.head_seconds)
        return super().head(key, timeout=timeout)


def test_a_conditional_put_gives_its_write_what_the_etag_lookup_left_of_the_attempt() -> None:
    clock = ManualClock()
    store = _SlowHead("one", clock, 0.6)
    settings = EngineSettings(start_probers=False, attempt_timeout=None)
    storage = FailoverStorage([store], settings=settings, clock=clock, replicate=False)
    try:
        etag = storage.put("k", b"v").etag
        store.timeouts.clear()
        storage.put("k", b"w", if_match=etag, timeout=1.0)
    finally:
        storage.close()
    assert store.timeouts == [pytest.approx(0.4)], "the write after the etag lookup got a whole attempt"

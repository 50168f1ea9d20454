"""Mirror mode acknowledges at its quorum, inside one deadline; slower stores finish in the background."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Mapping
from typing import BinaryIO, Literal, cast

import pytest

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.errors import ProviderUnavailable
from failover.interfaces import Data, ObjectInfo
from failover.storage import FailoverStorage, default_quorum
from failover.storage._writes import BACKGROUND_PER_STORE
from failover.testing.faulty import refused, server_error
from tests.unit.storage_rig import SETTINGS, Rig

WAIT = 5.0


class Gated(MemoryStore):
    """Its puts wait until ``gate`` opens (a slow provider, on a real thread); then store, or fail."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = threading.Event()
        self.fail = False
        self.puts = 0

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
        self.puts += 1
        assert self.gate.wait(WAIT), "the gate was never opened"
        if self.fail:
            raise ProviderUnavailable("refused after a long wait", provider="memory", operation="put", key=key)
        return super().put(key, data, content_type=content_type, metadata=metadata, timeout=timeout)


class Three:
    """aws and gcp answer at once; azure is `Gated`. A mirror with the default quorum (2 of 3)."""

    def __init__(self) -> None:
        self.aws, self.gcp, self.azure = MemoryStore("aws"), MemoryStore("gcp"), Gated("azure")
        self.storage = FailoverStorage(
            [self.aws, self.gcp, self.azure], mode="mirror", settings=SETTINGS, clock=ManualClock(), replicate=False
        )

    def version_on(self, store: MemoryStore, key: str) -> str | None:
        try:
            return MemoryStore.head(store, key).version
        except LookupError:
            return None


@pytest.fixture
def three() -> Iterator[Three]:
    made = Three()
    yield made
    made.azure.gate.set()
    made.storage.close()


def test_a_mirror_put_is_acked_at_the_quorum_while_a_slow_store_still_writes(three: Three) -> None:
    started = time.monotonic()
    info = three.storage.put("k", b"v")
    assert time.monotonic() - started < WAIT / 2, "the put waited for the slow store"
    assert three.storage.journal.newest_pending("k") == {"azure"}, "the store still writing was not journaled"
    three.azure.gate.set()
    assert three.storage.wait_for_writes(WAIT)
    assert three.version_on(three.azure, "k") == info.version
    assert three.storage.journal.backlog() == {}, "the background write did not mark its store done"


def test_a_background_write_sends_the_body_after_the_caller_closed_its_file(three: Three) -> None:
    with io.BytesIO(b"the caller's bytes") as caller:
        info = three.storage.put("k", cast(BinaryIO, caller))
    three.azure.gate.set()
    assert three.storage.wait_for_writes(WAIT)
    assert three.version_on(three.azure, "k") == info.version
    assert MemoryStore.get_bytes(three.azure, "k") == b"the caller's bytes"


def test_a_background_write_that_fails_leaves_its_store_pending(three: Three) -> None:
    three.azure.fail = True
    three.storage.put("k", b"v")
    three.azure.gate.set()
    assert three.storage.wait_for_writes(WAIT)
    assert three.storage.journal.newest_pending("k") == {"azure"}


def test_a_write_of_a_key_leaves_out_a_store_still_writing_an_older_version(three: Three) -> None:
    three.storage.put("k", b"v1")
    newer = three.storage.put("k", b"v2")
    assert three.azure.puts == 1, "the newer version was sent while the older one was still being written"
    assert three.storage.journal.newest_pending("k") == {"azure"}
    three.azure.gate.set()
    assert three.storage.wait_for_writes(WAIT)
    assert three.storage.journal.newest_pending("k") == {"azure"}, "the older write marked the newer one done"
    three.storage.drain()
    assert three.version_on(three.azure, "k") == newer.version
    assert three.storage.journal.backlog() == {}


def test_the_replicator_waits_for_a_background_write_of_the_key_before_copying(three: Three) -> None:
    three.storage.put("k", b"v1")
    newer = three.storage.put("k", b"v2")
    three.azure.fail = False
    draining = threading.Thread(target=three.storage.drain)
    draining.start()
    draining.join(0.2)
    assert draining.is_alive(), "the replicator copied while an older write of the key was still running"
    three.azure.gate.set()
    draining.join(WAIT)
    assert three.version_on(three.azure, "k") == newer.version


@pytest.mark.parametrize(("stores", "quorum"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 2)])
def test_the_default_quorum_tolerates_one_store_down(stores: int, quorum: int) -> None:
    assert default_quorum(stores) == quorum


def test_a_two_store_mirror_keeps_writing_while_either_store_is_down() -> None:
    made = Rig(mode="mirror")
    try:
        assert made.storage.write_quorum == 1
        for down, up in (("aws", "gcp"), ("gcp", "aws")):
            made.stores[down].fail(refused())
            info = made.storage.put(f"k-{down}", b"v")
            assert made.held_by(f"k-{down}")[up] == info.version
            assert made.storage.journal.newest_pending(f"k-{down}") == {down}
            made.recover(down)
    finally:
        made.close()


class _Slow(MemoryStore):
    """A put that takes ``seconds`` of the manual clock."""

    def __init__(self, name: str, clock: ManualClock, seconds: float) -> None:
        super().__init__(name)
        self._clock, self._seconds = clock, seconds
        self.timeouts: list[float | None] = []

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
        self.timeouts.append(timeout)
        self._clock.advance(self._seconds)
        return super().put(
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
            timeout=timeout,
        )


def test_every_store_of_a_conditional_mirror_put_shares_the_calls_deadline() -> None:
    clock = ManualClock()
    first, second = _Slow("aws", clock, 4.0), _Slow("gcp", clock, 0.0)
    storage = FailoverStorage([first, second], mode="mirror", settings=SETTINGS, clock=clock, replicate=False)
    try:
        storage.put("k", b"v", if_none_match="*", timeout=5.0)
        assert second.timeouts, "the second store was not written"
        assert all(left is not None and left <= 1.0 for left in second.timeouts), (
            f"the second store was given {second.timeouts} s of a 5 s call that had spent 4"
        )
    finally:
        storage.close()


def test_a_store_far_behind_is_left_to_the_journal_instead_of_piling_up_writes(three: Three) -> None:
    for index in range(BACKGROUND_PER_STORE + 3):
        three.storage.put(f"k{index}", b"v")
    assert three.azure.puts == BACKGROUND_PER_STORE, "more writes were started on the slow store than the cap"
    assert three.storage.journal.backlog() == {"azure": BACKGROUND_PER_STORE + 3}
    three.azure.gate.set()
    assert three.storage.wait_for_writes(WAIT)
    assert three.storage.journal.backlog() == {"azure": 3}


def test_stores_behind_on_other_keys_are_still_written_when_the_quorum_needs_them() -> None:
    made = Rig(mode="mirror")
    inflight = made.storage._writes.inflight
    for name in ("aws", "gcp"):
        for _ in range(BACKGROUND_PER_STORE):
            inflight.begin("other", name)
    try:
        info = made.storage.put("k", b"v")
        assert info.version in made.held_by("k").values()
    finally:
        for name in ("aws", "gcp"):
            for _ in range(BACKGROUND_PER_STORE):
                inflight.end("other", name)
        made.close()


def test_a_write_that_needs_a_store_still_writing_the_key_waits_for_it() -> None:
    made = Rig(mode="mirror", write_quorum=2)
    inflight = made.storage._writes.inflight
    inflight.begin("k", "gcp")
    ending = threading.Timer(0.1, inflight.end, ("k", "gcp"))
    ending.start()
    try:
        info = made.storage.put("k", b"v")
        assert made.held_by("k") == {"aws": info.version, "gcp": info.version}
    finally:
        ending.join()
        made.close()


def test_a_store_saturated_with_background_writes_is_written_when_a_target_fails() -> None:
    made = Rig(("aws", "gcp", "azure"), mode="mirror")
    inflight = made.storage._writes.inflight
    for _ in range(BACKGROUND_PER_STORE):
        inflight.begin("other", "azure")
    made.gcp.fail(server_error, "put")
    try:
        info = made.storage.put("k", b"v")
        assert made.held_by("k") == {"aws": info.version, "gcp": None, "azure": info.version}
    finally:
        for _ in range(BACKGROUND_PER_STORE):
            inflight.end("other", "azure")
        made.close()


def test_a_store_still_writing_the_key_is_written_when_a_target_fails() -> None:
    made = Rig(("aws", "gcp", "azure"), mode="mirror")
    inflight = made.storage._writes.inflight
    inflight.begin("k", "azure")
    ending = threading.Timer(0.1, inflight.end, ("k", "azure"))
    ending.start()
    made.gcp.fail(server_error, "put")
    try:
        info = made.storage.put("k", b"v")
        assert made.held_by("k") == {"aws": info.version, "gcp": None, "azure": info.version}
    finally:
        ending.join()
        made.close()

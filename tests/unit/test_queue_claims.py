"""Claim-check: bodies too large for the smallest queue travel through an object store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.adapters.memory import MemoryStore
from failover.errors import AllProvidersFailed, InvalidRequest, ProviderUnavailable, Reason
from failover.interfaces import OutgoingMessage, QueueCapabilities
from failover.queue import CLAIM_PREFIX
from tests.unit.queue_rig import Rig

SMALL = QueueCapabilities(max_message_size=256, max_attributes=10, max_delay=900)
LARGE_BODY = bytes(range(256)) * 8  # 2 KiB: over the queues' 256 bytes


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore("claims")


@pytest.fixture
def rig(store: MemoryStore) -> Iterator[Rig]:
    rig = Rig(capabilities=SMALL, options={"claim_check": store})
    yield rig
    rig.close()


def _keys(store: MemoryStore) -> list[str]:
    return sorted(entry.key for entry in store.list(CLAIM_PREFIX) if hasattr(entry, "key"))


def test_with_a_claim_check_store_the_body_limit_is_the_stores(rig: Rig, store: MemoryStore) -> None:
    assert rig.queue.capabilities.max_message_size == store.capabilities.max_object_size


def test_a_large_body_goes_to_the_store_and_the_queue_carries_a_small_pointer(rig: Rig, store: MemoryStore) -> None:
    rig.queue.send(LARGE_BODY, dedup_id="order-9")
    assert _keys(store) == [CLAIM_PREFIX + "order-9"]
    (held,) = rig.held(rig.primary)
    assert len(held.body) <= SMALL.max_message_size
    assert held.body != LARGE_BODY


def test_receive_fetches_the_body_and_ack_deletes_the_object_after_the_message(rig: Rig, store: MemoryStore) -> None:
    rig.queue.send(LARGE_BODY, attributes={"kind": "report"})
    (message,) = rig.queue.receive()
    assert (message.body, dict(message.attributes)) == (LARGE_BODY, {"kind": "report"})
    assert len(_keys(store)) == 1, "the body went before the message was acked"
    rig.queue.ack(message)
    assert _keys(store) == []
    assert rig.held(rig.primary) == []


def test_a_small_body_travels_in_the_message(rig: Rig, store: MemoryStore) -> None:
    rig.queue.send(b"small")
    assert _keys(store) == []
    assert [message.body for message in rig.queue.receive()] == [b"small"]


def test_a_body_that_looks_like_a_pointer_takes_the_claim_check_path_too(rig: Rig, store: MemoryStore) -> None:
    tricky = b"\x00failover-claim\x00failover-claims/not-mine"
    rig.queue.send(tricky)
    assert len(_keys(store)) == 1
    assert [message.body for message in rig.queue.receive()] == [tricky]


def test_a_dedup_id_that_is_no_safe_key_is_hashed_into_the_key(rig: Rig, store: MemoryStore) -> None:
    rig.queue.send(LARGE_BODY, dedup_id="orders/17?x")
    (key,) = _keys(store)
    assert key.startswith(CLAIM_PREFIX + "sha256-")
    assert [message.body for message in rig.queue.receive()] == [LARGE_BODY]


def test_a_large_batch_entry_goes_through_the_store(rig: Rig, store: MemoryStore) -> None:
    results = rig.queue.send_batch([OutgoingMessage(b"small"), OutgoingMessage(LARGE_BODY)])
    assert all(result.ok for result in results)
    assert len(_keys(store)) == 1
    assert sorted(message.body for message in rig.queue.receive(10)) == sorted([b"small", LARGE_BODY])


def test_a_send_no_queue_took_deletes_its_body_again(rig: Rig, store: MemoryStore) -> None:
    rig.primary.fail(None, "send")
    rig.secondary.fail(None, "send")
    with pytest.raises(AllProvidersFailed):
        rig.queue.send(LARGE_BODY)
    assert _keys(store) == []


def test_a_pointer_whose_body_no_store_holds_is_left_for_redelivery_not_acked(rig: Rig, store: MemoryStore) -> None:
    rig.queue.send(LARGE_BODY, dedup_id="order-5")
    body = store.get_bytes(CLAIM_PREFIX + "order-5")
    store.delete(CLAIM_PREFIX + "order-5")  # not readable yet (or deleted): no proof it was processed
    assert rig.queue.receive() == []
    assert "ack" not in rig.primary.calls, "a message whose body was missing was acked"
    assert rig.queue.counters().claims_missing == 1
    store.put(CLAIM_PREFIX + "order-5", body)  # the body becomes readable
    rig.clock.advance(30)  # the message's visibility ends
    assert [message.body for message in rig.queue.receive()] == [LARGE_BODY]


def test_a_body_missing_at_every_delivery_is_given_up_loudly_after_the_bound(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(capabilities=SMALL, options={"claim_check": store, "claim_give_up": 3})
    try:
        rig.queue.send(LARGE_BODY, dedup_id="order-6")
        store.delete(CLAIM_PREFIX + "order-6")
        for _ in range(3):
            assert rig.queue.receive() == []
            rig.clock.advance(30)
        counters = rig.queue.counters()
        assert (counters.claims_missing, counters.claims_abandoned) == (2, 1)
        assert rig.held(rig.primary) == [], "the message was not settled at the give-up delivery"
        assert any(r.levelname == "ERROR" and "giving up" in r.getMessage() for r in caplog.records), (
            "the give-up was not logged as an error"
        )
    finally:
        rig.close()


def test_without_a_store_a_body_over_the_smallest_queue_is_refused_before_any_call() -> None:
    rig = Rig(capabilities=SMALL)
    try:
        with pytest.raises(InvalidRequest, match="256"):
            rig.queue.send(LARGE_BODY)
        assert rig.primary.calls == {}
    finally:
        rig.close()


class _FlakyStore(MemoryStore):
    """A memory store whose reads fail while ``down`` is set."""

    down = False

    def get_bytes(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> bytes:
        if self.down:
            raise ProviderUnavailable("the store is down", reason=Reason.REFUSED)
        return super().get_bytes(key, byte_range=byte_range, timeout=timeout)


def test_a_body_the_store_cannot_serve_now_leaves_its_message_hidden_for_a_later_receive() -> None:
    store = _FlakyStore("claims")
    rig = Rig(capabilities=SMALL, options={"claim_check": store})
    try:
        rig.queue.send(LARGE_BODY)
        store.down = True
        assert rig.queue.receive() == []
        assert rig.queue.counters().claims_unavailable == 1
        assert "ack" not in rig.primary.calls
        assert "nack" not in rig.primary.calls
        store.down = False
        rig.clock.advance(30)  # the message's visibility ends
        assert [message.body for message in rig.queue.receive()] == [LARGE_BODY]
    finally:
        rig.close()

"""EncryptedQueue: what the provider carries, and the IntegrityError for every altered message."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.crypto import EncryptedQueue, Keyring, LocalKey
from failover.crypto.queue import MAX_ATTRIBUTE_VALUE
from failover.errors import IntegrityError, InvalidRequest
from failover.interfaces import Message, QueueCapabilities
from failover.queue import FailoverQueue
from tests.crypto.support import KEY_B, keyring


@pytest.fixture
def inner() -> Iterator[MemoryQueue]:
    queue = MemoryQueue()
    yield queue
    queue.close()


def _raw(queue: MemoryQueue) -> Message:
    [message] = queue.receive(1, visibility=0.05)
    return message


class _Replaying(MemoryQueue):
    """Delivers one altered message, as a provider (or an attacker in it) could."""

    def __init__(self, message: Message) -> None:
        super().__init__()
        self._message = message

    def receive(self, max_messages: int = 1, **kwargs: object) -> list[Message]:
        return [self._message]


def _altered(raw: Message, **changes: object) -> EncryptedQueue:
    return EncryptedQueue(_Replaying(replace(raw, **changes)), keyring())  # type: ignore[arg-type]


def test_provider_carries_sealed_body_and_attribute_values_and_clear_names(inner: MemoryQueue) -> None:
    EncryptedQueue(inner, keyring()).send(b"card 4111", attributes={"customer": "alice"}, dedup_id="order-1")
    raw = _raw(inner)
    assert b"4111" not in raw.body
    assert set(raw.attributes) == {"customer"}
    assert "alice" not in raw.attributes["customer"]
    assert raw.dedup_id == "order-1", "the dedup id is the provider's to see"


def test_message_sent_under_an_old_key_is_read_after_rotation(inner: MemoryQueue) -> None:
    EncryptedQueue(inner, keyring("key-a")).send(b"old", attributes={"k": "v"})
    [message] = EncryptedQueue(inner, keyring("key-b")).receive(1)
    assert (message.body, dict(message.attributes)) == (b"old", {"k": "v"})


def test_tampered_body_raises(inner: MemoryQueue) -> None:
    EncryptedQueue(inner, keyring()).send(b"pay 10")
    raw = _raw(inner)
    body = bytearray(raw.body)
    body[-1] ^= 1
    with pytest.raises(IntegrityError, match="failed authentication"):
        _altered(raw, body=bytes(body)).receive(1)


def test_attribute_value_swapped_for_another_raises(inner: MemoryQueue) -> None:
    EncryptedQueue(inner, keyring()).send(b"x", attributes={"a": "1", "b": "2"})
    raw = _raw(inner)
    swapped = {"a": raw.attributes["b"], "b": raw.attributes["a"]}
    with pytest.raises(IntegrityError):
        _altered(raw, attributes=swapped).receive(1)


def test_dropped_attribute_raises(inner: MemoryQueue) -> None:
    EncryptedQueue(inner, keyring()).send(b"x", attributes={"a": "1", "b": "2"})
    raw = _raw(inner)
    with pytest.raises(IntegrityError):
        _altered(raw, attributes={"a": raw.attributes["a"]}).receive(1)


def test_unknown_key_id_raises_naming_it(inner: MemoryQueue) -> None:
    EncryptedQueue(inner, keyring()).send(b"x")
    with pytest.raises(IntegrityError) as caught:
        EncryptedQueue(inner, Keyring([KEY_B], active="key-b")).receive(1)
    assert (caught.value.key_id, caught.value.check) == ("key-a", "key lookup")


def test_wrong_key_of_the_same_name_raises(inner: MemoryQueue) -> None:
    EncryptedQueue(inner, keyring()).send(b"x")
    impostor = Keyring([LocalKey("key-a", bytes(32))], active="key-a")
    with pytest.raises(IntegrityError, match="key-a"):
        EncryptedQueue(inner, impostor).receive(1)


def test_message_sent_around_the_encryption_raises(inner: MemoryQueue) -> None:
    inner.send(b"plain")
    with pytest.raises(IntegrityError, match="not a sealed envelope"):
        EncryptedQueue(inner, keyring()).receive(1)


def test_capabilities_leave_room_for_the_envelope(inner: MemoryQueue) -> None:
    queue = EncryptedQueue(inner, keyring())
    overhead = inner.capabilities.max_message_size - queue.capabilities.max_message_size
    assert overhead == 1 + 1 + len("key-a") + 2 + 12 + 16
    with pytest.raises(InvalidRequest, match="attribute 'a'"):
        queue.send(b"x", attributes={"a": "v" * (MAX_ATTRIBUTE_VALUE + 1)})
    queue.send(b"x", attributes={"a": "v" * MAX_ATTRIBUTE_VALUE})
    assert len(_raw(inner).attributes["a"]) <= 1024


def test_claim_checked_body_is_stored_sealed() -> None:
    small = MemoryQueue(capabilities=QueueCapabilities(max_message_size=1024, max_attributes=10, max_delay=900))
    claims = MemoryStore()
    queue = EncryptedQueue(FailoverQueue([small], claim_check=claims, drain_interval=None), keyring())
    body = b"large and secret " * 200
    try:
        queue.send(body)
        stored = [claims.get_bytes(entry.key) for entry in claims.list() if hasattr(entry, "key")]
        [message] = queue.receive(1, wait=1)
    finally:
        queue.close()
    assert len(stored) == 1, "the body did not go to the claim-check store"
    assert b"secret" not in stored[0], "the claim-check store holds plaintext"
    assert base64.b64encode(body[:12]) not in stored[0]
    assert message.body == body


@settings(max_examples=60, deadline=None, database=None)
@given(
    body=st.binary(max_size=2048),
    attributes=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
        st.text(st.characters(min_codepoint=32, max_codepoint=0xD7FF), min_size=1, max_size=60),
        max_size=5,
    ),
)
def test_any_body_and_attributes_round_trip_sealed(body: bytes, attributes: dict[str, str]) -> None:
    inner = MemoryQueue()
    queue = EncryptedQueue(inner, keyring())
    queue.send(body, attributes=attributes)
    [message] = queue.receive(1)
    assert (message.body, dict(message.attributes)) == (body, attributes)
    queue.close()


def test_a_message_that_fails_its_check_goes_to_the_handler_and_the_batch_still_arrives(inner: MemoryQueue) -> None:
    refused: list[tuple[str, str]] = []
    queue = EncryptedQueue(
        inner, keyring(), on_integrity_error=lambda message, error: refused.append((message.id, error.check))
    )
    inner.send(b"sent around the encryption")
    queue.send(b"sealed")
    received = queue.receive(10, wait=0.5)
    assert [message.body for message in received] == [b"sealed"]
    assert [check for _, check in refused] == ["message envelope"]

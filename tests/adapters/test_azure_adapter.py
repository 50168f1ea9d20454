"""What the Azure adapters do beyond the shared contract: bounded memory on 64 MiB, staged blocks,
listings that carry what head does, credentials, the queue envelope, pop receipts, polling waits."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.adapters.azure import AzureBlobStore, AzureQueue
from failover.adapters.azure.queue import MAX_BODY, MESSAGE_LIMIT, AzureReceipt, decode_envelope, encode_envelope
from failover.config import AzureQueueConfig
from failover.errors import (
    ConfigError,
    Disposition,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    ProviderUnavailable,
    Reason,
)
from failover.interfaces import CommonPrefix, Message, ObjectInfo, OutgoingMessage
from failover.testing.emulators import AZURITE_ACCOUNT, AZURITE_KEY, Azurite, LocalClouds
from tests.support import closed_port

pytestmark = pytest.mark.emulator

MiB = 1024 * 1024


# --- storage ------------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_64_mib_object_streams_up_and_down_in_staged_blocks_with_bounded_memory(
    store: AzureBlobStore, azurite: Azurite, unique_name: str, tmp_path: Path
) -> None:
    size = 64 * MiB
    source = tmp_path / "large.bin"
    expected = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(size // MiB):
            chunk = os.urandom(MiB)
            expected.update(chunk)
            out.write(chunk)

    tracemalloc.start()
    try:
        with source.open("rb") as body:
            info = store.put("large", body)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        received = hashlib.sha256()
        count = 0
        with store.get("large") as reader:
            for chunk in reader:
                received.update(chunk)
                count += len(chunk)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert put_peak < 24 * MiB, f"uploading 64 MiB peaked at {put_peak / MiB:.1f} MiB of Python memory"
    assert get_peak < 24 * MiB, f"downloading 64 MiB peaked at {get_peak / MiB:.1f} MiB of Python memory"
    assert count == size, f"downloaded {count} bytes of {size}"
    assert received.hexdigest() == expected.hexdigest(), "the downloaded bytes differ from the uploaded ones"
    assert info.sha256 == expected.hexdigest(), "put reported another sha256 than hashlib's"
    assert store.head("large").sha256 == expected.hexdigest(), "the stored failover_sha256 is not the content's"
    # Look at the blob with the SDK itself: it must be made of committed blocks, not one single put.
    from azure.storage.blob import BlobClient

    blob = BlobClient.from_connection_string(azurite.connection_string, unique_name, "large")
    committed, _ = blob.get_block_list("committed")
    assert len(committed) == size // (4 * MiB), f"{len(committed)} committed blocks, expected 16 of 4 MiB"


def test_listing_etag_is_heads_and_works_as_if_match(store: AzureBlobStore) -> None:
    store.put("doc", b"v1")
    [listed] = [entry for entry in store.list() if isinstance(entry, ObjectInfo)]
    assert listed.etag == store.head("doc").etag, f"listing etag {listed.etag!r} is not head's"
    assert listed.etag is not None
    store.put("doc", b"v2", if_match=listed.etag)
    assert store.get_bytes("doc") == b"v2"


def test_listing_carries_sha256_version_and_metadata(store: AzureBlobStore) -> None:
    store.put("a/doc", b"payload", metadata={"owner": "ops", "failover_version": "0001-w1"})
    entries = list(store.list("a/", delimiter="/"))
    assert len(entries) == 1, f"listing gave {entries}"
    assert isinstance(entries[0], ObjectInfo), f"listing gave {entries}"
    assert entries[0].sha256 == hashlib.sha256(b"payload").hexdigest(), "a listing entry lacks the sha256"
    assert entries[0].version == "0001-w1", f"a listing entry has version {entries[0].version!r}"
    assert dict(entries[0].metadata) == {"owner": "ops"}, f"listing metadata {dict(entries[0].metadata)}"
    assert list(store.list("", delimiter="/")) == [CommonPrefix("a/")]


def test_ranged_read_reports_the_whole_object_size(store: AzureBlobStore) -> None:
    store.put("digits", b"0123456789")
    with store.get("digits", byte_range=(2, 5)) as reader:
        assert reader.read() == b"234"
        assert reader.info.size == 10, f"a ranged read reported size {reader.info.size}"
    with store.get("digits", byte_range=(10, None)) as reader:
        assert reader.read() == b"", "a range starting at the end returned bytes"
        assert reader.info.size == 10, f"a range past the end reported size {reader.info.size}"


def test_account_url_with_account_key_reaches_the_account(azurite: Azurite, unique_name: str) -> None:
    config = azurite.azure_blob_config(
        unique_name, connection_string=None, account_url=azurite.blob_endpoint, account_key=AZURITE_KEY
    )
    store = AzureBlobStore(config)
    store.put("k", b"shared key")
    assert store.get_bytes("k") == b"shared key"
    store.close()


def test_account_url_alone_without_azure_identity_raises_config_error(
    azurite: Azurite, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if azure-identity were not installed
    config = azurite.azure_blob_config(unique_name, connection_string=None, account_url=azurite.blob_endpoint)
    with pytest.raises(ConfigError, match="azure-identity"):
        AzureBlobStore(config)


def test_ensure_tolerates_an_existing_container(azurite: Azurite, unique_name: str) -> None:
    first = AzureBlobStore(azurite.azure_blob_config(unique_name))
    first.put("k", b"kept")
    second = AzureBlobStore(azurite.azure_blob_config(unique_name))
    assert second.get_bytes("k") == b"kept", "ensuring an existing container lost its contents"


def test_ensure_tolerates_an_existing_queue(azurite: Azurite, unique_name: str) -> None:
    first = AzureQueue(azurite.azure_queue_config(unique_name))
    first.send(b"kept")
    second = AzureQueue(azurite.azure_queue_config(unique_name))
    assert [message.body for message in _receive(second, 1)] == [b"kept"], "ensuring an existing queue emptied it"


def test_name_and_capabilities_follow_the_config(azurite: Azurite, unique_name: str) -> None:
    default = AzureBlobStore(azurite.azure_blob_config(unique_name, ensure=False))
    assert default.name == f"azure:blob:{unique_name}"
    assert default.provider == "azure"
    # 50,000 blocks of block_size: the largest object the SDK's staged upload can write.
    assert default.capabilities.max_object_size == 50_000 * 4 * MiB
    named = AzureBlobStore(azurite.azure_blob_config(unique_name, ensure=False, name="primary"))
    assert named.name == "primary"


# --- queue --------------------------------------------------------------------------------------------


@given(
    body=st.binary(max_size=3000),
    attributes=st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_.\-]{1,16}", fullmatch=True), st.text(min_size=1, max_size=40), max_size=10
    ),
)
def test_envelope_round_trips_any_body_and_attributes_as_xml_safe_ascii(
    body: bytes, attributes: dict[str, str]
) -> None:
    text = encode_envelope(body, attributes)
    assert text.isascii(), f"the envelope is not ASCII: {text[:80]!r}"
    assert not set(text) & set("<>&"), f"the envelope needs XML escaping: {text[:80]!r}"
    assert decode_envelope(text) == (body, attributes)


def test_largest_body_fills_the_envelope_to_the_service_limit_beside_the_longest_dedup_id() -> None:
    longest = {"failover_dedup_id": "<" * 128}  # every character escaped: 6 characters each
    assert len(encode_envelope(bytes(MAX_BODY), longest)) <= MESSAGE_LIMIT
    assert len(encode_envelope(bytes(MAX_BODY + 3), longest)) > MESSAGE_LIMIT


def test_body_room_shrinks_with_the_escaped_size_of_the_attributes(queue: AzureQueue) -> None:
    attributes = {"failover_dedup_id": "a" * 32, **{f"a{i}": "<" * 1024 for i in range(8)}}
    room = queue.body_room(attributes)
    assert len(encode_envelope(bytes(room), attributes)) <= MESSAGE_LIMIT
    assert len(encode_envelope(bytes(room + 3), attributes)) > MESSAGE_LIMIT


def test_binary_bodies_attributes_and_dedup_id_round_trip(queue: AzureQueue) -> None:
    bodies = [b"", bytes(range(256)), b"\x00" * 17, b"<xml>&amp;</xml>", os.urandom(1000)]
    attributes = {"note": "<tag> & \"quotes\" 'é' \u2603", "trace.id": "a-1"}
    for index, body in enumerate(bodies):
        queue.send(body, attributes=attributes, dedup_id=f"id-{index}")
    received = _receive(queue, len(bodies))
    by_dedup = {message.dedup_id: message for message in received}
    for index, body in enumerate(bodies):
        message = by_dedup[f"id-{index}"]
        assert message.body == body, f"body {index} came back as {message.body[:40]!r}"
        assert dict(message.attributes) == attributes, f"attributes came back as {dict(message.attributes)}"


def test_foreign_text_message_is_delivered_as_its_utf8_bytes(queue: AzureQueue, azurite: Azurite) -> None:
    from azure.storage.queue import QueueClient

    raw = QueueClient.from_connection_string(azurite.connection_string, queue.name.split(":", 2)[2])
    raw.send_message("héllo, not an envelope {")
    [message] = queue.receive(1, wait=5)
    assert message.body == "héllo, not an envelope {".encode(), f"foreign text came back as {message.body!r}"
    assert dict(message.attributes) == {}, f"foreign text came with attributes {dict(message.attributes)}"
    assert message.dedup_id is None


def test_attributes_pushing_the_envelope_over_64_kib_are_refused_before_any_call(
    azurite: Azurite, unique_name: str
) -> None:
    offline = AzureQueue(_unreachable_queue_config(azurite, unique_name))
    with pytest.raises(InvalidRequest) as caught:
        offline.send(bytes(MAX_BODY), attributes={"k": "<" * 1024})
    assert caught.value.rule == "message.max_size", f"refused by rule {caught.value.rule!r}"
    assert caught.value.__cause__ is None, "the refusal came from the network"


def test_extend_then_ack_uses_the_new_pop_receipt(queue: AzureQueue) -> None:
    queue.send(b"slow")
    [message] = queue.receive(1, wait=5, visibility=30)
    assert isinstance(message.receipt, AzureReceipt)
    before = message.receipt.pop_receipt
    queue.extend(message, 60)
    assert message.receipt.pop_receipt != before, "extend did not store the new pop receipt"
    queue.ack(message)
    with pytest.raises(NotFound):
        queue.ack(message)  # deleted by the ack above, so the extend's receipt did delete it


def test_nack_with_delay_then_ack_deletes_the_message(queue: AzureQueue) -> None:
    queue.send(b"later")
    [message] = queue.receive(1, wait=5, visibility=30)
    queue.nack(message, delay=60)
    queue.ack(message)  # with the pop receipt the nack brought
    with pytest.raises(NotFound):
        queue.ack(message)


@pytest.mark.timeout(60)  # a receive that sat out its whole wait would fail here, not finish
def test_receive_with_wait_returns_when_a_message_arrives_from_another_thread(queue: AzureQueue) -> None:
    sender = threading.Timer(1.0, queue.send, args=(b"while waiting",))
    sender.start()
    try:
        received = queue.receive(1, wait=300)
    finally:
        sender.join()
    assert [message.body for message in received] == [b"while waiting"]


@pytest.mark.timeout(60)
def test_close_ends_a_waiting_receive(azurite: Azurite, unique_name: str) -> None:
    queue = AzureQueue(azurite.azure_queue_config(unique_name))
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(queue.receive(1, wait=300)))
    waiter.start()
    threading.Event().wait(1.0)  # let it reach its pause between polls
    queue.close()
    waiter.join()
    assert results == [[]], f"a receive ended by close returned {results}"


def test_send_batch_stops_at_a_provider_failure_and_reports_every_entry(azurite: Azurite, unique_name: str) -> None:
    queue = AzureQueue(_unreachable_queue_config(azurite, unique_name))
    results = queue.send_batch(
        [OutgoingMessage(b"1"), OutgoingMessage(b"2", attributes={"failover_x": "v"}), OutgoingMessage(b"3")]
    )
    assert [type(result.error) for result in results] == [ProviderUnavailable, InvalidRequest, ProviderUnavailable]
    first = results[0].error
    assert isinstance(first, ProviderUnavailable)
    assert first.reason is Reason.REFUSED, f"reason {first.reason}"
    assert results[2].error is first, "the entry after the failure was tried again"


@pytest.mark.timeout(60)
def test_send_during_a_hang_is_outcome_unknown_and_is_delivered_after_recovery(
    queue: AzureQueue, local_clouds: LocalClouds
) -> None:
    local_clouds.pause("azure")
    try:
        with pytest.raises(OutcomeUnknown):
            queue.send(b"ambiguous", timeout=0.5)
    finally:
        local_clouds.resume("azure")
    # The request reached the frozen service before the client gave up: it happens anyway.
    assert [message.body for message in _receive(queue, 1)] == [b"ambiguous"]


def _unreachable_queue_config(azurite: Azurite, queue: str) -> AzureQueueConfig:
    return azurite.azure_queue_config(
        queue,
        ensure=False,
        connection_string=None,
        account_url=f"http://127.0.0.1:{closed_port()}/{AZURITE_ACCOUNT}",
        account_key=AZURITE_KEY,
    )


def _receive(queue: AzureQueue, count: int) -> list[Message]:
    received: list[Message] = []
    for _ in range(20):
        received.extend(queue.receive(32, wait=1))
        if len(received) >= count:
            break
    return received


def test_object_overwritten_mid_read_raises_provider_unavailable_to_retry(store: AzureBlobStore) -> None:
    # Later chunks are pinned to the first chunk's ETag: a reader never mixes two versions.
    store.put("doc", bytes(3 * MiB))
    with store.get("doc") as reader:
        first = reader.read(MiB)
        store.put("doc", b"\x01" * (3 * MiB))
        with pytest.raises(ProviderUnavailable) as caught:
            reader.read()
    assert first == bytes(MiB)
    assert caught.value.disposition is Disposition.RETRY, "reading again would get the new version"

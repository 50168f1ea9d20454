"""EncryptedStorage: what the provider holds, key rotation, ranges, sizes and memory."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import tracemalloc
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover.adapters.memory import MemoryStore
from failover.crypto import EncryptedStorage
from failover.crypto._format import CIPHER_SEGMENT, HEADER_NAME, SEGMENT_SIZE, ciphertext_size, plaintext_size
from failover.errors import ConfigError, InvalidRequest
from failover.interfaces import ObjectInfo, ObjectReader, ObjectStore
from tests.crypto.support import encrypted_memory, keyring

MiB = 1024 * 1024


def test_provider_holds_ciphertext_and_no_caller_metadata_or_content_type() -> None:
    store, inner = encrypted_memory()
    body = b"the quarterly numbers " * 1000
    store.put("report.csv", body, content_type="text/csv", metadata={"owner": "finance"})
    raw = inner.head("report.csv")
    stored = inner.get_bytes("report.csv")
    assert set(raw.metadata) == {HEADER_NAME}, f"the provider sees metadata {dict(raw.metadata)}"
    assert raw.content_type is None, f"the provider sees content type {raw.content_type!r}"
    assert b"quarterly" not in stored
    assert b"finance" not in raw.metadata[HEADER_NAME].encode()
    assert raw.sha256 == hashlib.sha256(stored).hexdigest(), "the clear sha256 is not the ciphertext's"
    assert raw.size == ciphertext_size(len(body))


def test_head_returns_the_sealed_metadata_size_and_plaintext_sha256() -> None:
    store, _ = encrypted_memory()
    store.put("doc", b"x" * 70_000, content_type="text/plain", metadata={"owner": "a"})
    head = store.head("doc")
    assert (head.size, head.content_type, dict(head.metadata)) == (70_000, "text/plain", {"owner": "a"})
    assert head.sha256 == hashlib.sha256(b"x" * 70_000).hexdigest()


def test_object_written_under_an_old_key_reads_after_the_active_key_changes() -> None:
    store, inner = encrypted_memory(active="key-a")
    store.put("old", b"written under key-a")
    rotated = EncryptedStorage(inner, keyring(active="key-b"))
    rotated.put("new", b"written under key-b")
    assert rotated.get_bytes("old") == b"written under key-a"
    assert rotated.get_bytes("new") == b"written under key-b"


def test_copy_re_encrypts_under_the_destination_key() -> None:
    store, inner = encrypted_memory()
    store.put("src", b"copied", metadata={"k": "v"})
    store.copy("src", "dst")
    assert store.get_bytes("dst") == b"copied"
    assert inner.get_bytes("dst") != inner.get_bytes("src"), "the copy reused the source's ciphertext"
    assert store.capabilities.server_side_copy is False


class _RangeSpy(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.ranges: list[tuple[int, int | None] | None] = []

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        self.ranges.append(byte_range)
        return super().get(key, byte_range=byte_range, timeout=timeout)


def test_range_read_fetches_only_the_segments_it_touches() -> None:
    inner = _RangeSpy()
    store = EncryptedStorage(inner, keyring())
    body = os.urandom(10 * SEGMENT_SIZE)
    store.put("big", body)
    got = store.get_bytes("big", byte_range=(3 * SEGMENT_SIZE + 7, 4 * SEGMENT_SIZE + 1))
    assert got == body[3 * SEGMENT_SIZE + 7 : 4 * SEGMENT_SIZE + 1]
    assert inner.ranges[-1] == (3 * CIPHER_SEGMENT, 5 * CIPHER_SEGMENT), f"fetched {inner.ranges[-1]}"


def test_listing_reports_plaintext_sizes() -> None:
    store, _ = encrypted_memory()
    for size in (0, 1, SEGMENT_SIZE, SEGMENT_SIZE + 1):
        store.put(f"s/{size}", b"z" * size)
    sizes = {entry.key: entry.size for entry in store.list("s/") if isinstance(entry, ObjectInfo)}
    assert sizes == {f"s/{size}": size for size in (0, 1, SEGMENT_SIZE, SEGMENT_SIZE + 1)}


def test_metadata_too_large_once_sealed_is_an_invalid_request() -> None:
    store, _ = encrypted_memory()
    with pytest.raises(InvalidRequest) as caught:
        store.put("doc", b"x", metadata={"notes": "y" * 1900})
    assert caught.value.rule == "metadata.max_size"


def test_building_without_cryptography_raises_config_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(ConfigError, match=r"failover\[crypto\]"):
        EncryptedStorage(MemoryStore(), keyring())


@pytest.mark.parametrize("ciphertext", [0, 15, CIPHER_SEGMENT + 16, 2 * CIPHER_SEGMENT + 3])
def test_sizes_no_ciphertext_has_give_no_plaintext_size(ciphertext: int) -> None:
    assert plaintext_size(ciphertext) is None


_SIZES = st.one_of(
    st.integers(0, 3 * SEGMENT_SIZE + 50),
    st.sampled_from([k * SEGMENT_SIZE + d for k in range(4) for d in (-1, 0, 1) if k * SEGMENT_SIZE + d >= 0]),
)


@settings(max_examples=60, deadline=None, database=None)
@given(size=_SIZES, data=st.data())
def test_every_range_of_every_size_reads_the_python_slice(size: int, data: Any) -> None:
    store, inner = encrypted_memory()
    body = os.urandom(size)
    store.put("obj", body)
    assert plaintext_size(inner.head("obj").size) == size
    boundaries = st.sampled_from(
        [k * SEGMENT_SIZE + d for k in range(5) for d in (-1, 0, 1) if k * SEGMENT_SIZE + d >= 0]
    )
    start = data.draw(st.one_of(st.integers(0, size + 10), boundaries), label="start")
    stop = data.draw(
        st.one_of(
            st.none(), st.integers(start + 1, start + 2 * SEGMENT_SIZE + 1), boundaries.filter(lambda b: b > start)
        ),
        label="stop",
    )
    assert store.get_bytes("obj", byte_range=(start, stop)) == body[start:stop]
    assert store.get_bytes("obj") == body


def _file_of(size: int) -> Iterator[bytes]:
    for _ in range(size // MiB):
        yield os.urandom(MiB)


def _peaks(store: ObjectStore, source: BinaryIO, held_by_store: int) -> tuple[float, float, str]:
    """Python memory above what the store keeps, at peak, of a put from ``source`` and a streamed get."""
    source.seek(0)
    tracemalloc.start()
    try:
        store.put("large", source)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        received = hashlib.sha256()
        with store.get("large") as reader:
            for chunk in reader:
                received.update(chunk)
        held, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (put_peak - held_by_store) / MiB, (get_peak - held) / MiB, received.hexdigest()


def test_put_and_get_of_64_mib_buffer_no_more_than_a_plain_store_and_a_segment() -> None:
    size = 64 * MiB
    with tempfile.TemporaryFile() as source:
        digest = hashlib.sha256()
        for chunk in _file_of(size):
            source.write(chunk)
            digest.update(chunk)
        plain_put, plain_get, _ = _peaks(MemoryStore(), cast(BinaryIO, source), size)
        put, get, received = _peaks(
            EncryptedStorage(MemoryStore(), keyring()), cast(BinaryIO, source), ciphertext_size(size)
        )
    assert received == digest.hexdigest()
    # The memory store's own chunks (1 MiB) come and go either way. Encryption adds, at most, one read of
    # the store below (1 MiB, assembled from segments) and a segment or two: nothing that grows with the object.
    assert put - plain_put < 1.5, f"put buffered {put:.2f} MiB, {plain_put:.2f} MiB without encryption"
    assert get - plain_get < 1.5, f"get buffered {get:.2f} MiB, {plain_get:.2f} MiB without encryption"


@settings(max_examples=40, deadline=None, database=None)
@given(size=_SIZES, cuts=st.lists(st.integers(1, 3 * CIPHER_SEGMENT), min_size=1, max_size=6))
def test_segments_open_from_chunks_cut_anywhere(size: int, cuts: list[int]) -> None:
    store, inner = encrypted_memory()
    body = os.urandom(size)
    store.put("obj", body)
    ciphertext = inner.get_bytes("obj")

    def chunks() -> Iterator[bytes]:
        at, turn = 0, 0
        while at < len(ciphertext):
            step = cuts[turn % len(cuts)]
            yield ciphertext[at : at + step]
            at, turn = at + step, turn + 1

    class Cut(MemoryStore):
        def get(self, key: str, *, byte_range: Any = None, timeout: float | None = None) -> ObjectReader:
            return ObjectReader(inner.head(key), chunks())

    assert EncryptedStorage(Cut(), keyring()).get_bytes("obj") == body


def test_put_of_a_large_buffer_records_the_plaintext_and_the_ciphertext_sha256() -> None:
    store, inner = encrypted_memory()
    body = os.urandom(MiB + 5)  # large enough for the plaintext to be hashed beside the sealing
    written = store.put("large", body)
    assert written.sha256 == store.head("large").sha256 == hashlib.sha256(body).hexdigest()
    assert inner.head("large").sha256 == hashlib.sha256(inner.get_bytes("large")).hexdigest()
    assert store.get_bytes("large") == body

"""EncryptedStorage refuses every altered ciphertext with an IntegrityError, and returns none of its plaintext."""

from __future__ import annotations

import os
from typing import Any

import pytest

from failover.adapters.memory import MemoryStore
from failover.crypto import EncryptedStorage, Keyring, LocalKey
from failover.crypto._format import CIPHER_SEGMENT, HEADER_NAME, SEGMENT_SIZE
from failover.errors import IntegrityError
from failover.interfaces import ObjectReader
from tests.crypto.support import KEY_B, encrypted_memory, keyring

BODY = os.urandom(3 * SEGMENT_SIZE + 100)  # four segments, the last one short


def _ciphertext(inner: MemoryStore, key: str) -> tuple[bytes, str]:
    return inner.get_bytes(key), inner.head(key).metadata[HEADER_NAME]


def _replace(inner: MemoryStore, key: str, ciphertext: bytes, header: str) -> None:
    inner.put(key, ciphertext, metadata={HEADER_NAME: header})


def _read_until_error(store: EncryptedStorage, key: str) -> tuple[bytes, IntegrityError]:
    received = bytearray()
    try:
        with store.get(key) as reader:
            for chunk in reader:
                received += chunk
    except IntegrityError as error:
        return bytes(received), error
    raise AssertionError(f"{key!r} read back whole, with no IntegrityError")


def test_tampered_byte_raises_and_no_plaintext_of_its_segment_is_returned() -> None:
    store, inner = encrypted_memory()
    store.put("doc", BODY)
    ciphertext, header = _ciphertext(inner, "doc")
    flipped = bytearray(ciphertext)
    flipped[CIPHER_SEGMENT + 5] ^= 0x01
    _replace(inner, "doc", bytes(flipped), header)
    received, error = _read_until_error(store, "doc")
    assert received == BODY[:SEGMENT_SIZE], "bytes of the tampered segment (or later) reached the caller"
    assert error.check == "segment 1 of 4", f"the error names {error.check!r}"
    assert error.key_id == "key-a"
    assert error.key == "doc"


def test_tampered_byte_is_caught_by_a_range_read_of_that_segment() -> None:
    store, inner = encrypted_memory()
    store.put("doc", BODY)
    ciphertext, header = _ciphertext(inner, "doc")
    flipped = bytearray(ciphertext)
    flipped[2 * CIPHER_SEGMENT] ^= 0x80
    _replace(inner, "doc", bytes(flipped), header)
    with pytest.raises(IntegrityError, match="segment 2 of 4"):
        store.get_bytes("doc", byte_range=(2 * SEGMENT_SIZE + 10, 2 * SEGMENT_SIZE + 20))
    assert store.get_bytes("doc", byte_range=(0, 10)) == BODY[:10], "an untouched segment no longer reads"


def test_object_truncated_at_a_segment_boundary_raises() -> None:
    store, inner = encrypted_memory()
    store.put("doc", BODY)
    ciphertext, header = _ciphertext(inner, "doc")
    _replace(inner, "doc", ciphertext[: 3 * CIPHER_SEGMENT], header)
    with pytest.raises(IntegrityError) as caught:
        store.get_bytes("doc")
    assert caught.value.check == "size", f"truncation reported as {caught.value.check!r}"
    with pytest.raises(IntegrityError):
        store.head("doc")


def test_reordered_segments_raise() -> None:
    store, inner = encrypted_memory()
    store.put("doc", BODY)
    ciphertext, header = _ciphertext(inner, "doc")
    segments = [ciphertext[i : i + CIPHER_SEGMENT] for i in range(0, len(ciphertext), CIPHER_SEGMENT)]
    segments[0], segments[1] = segments[1], segments[0]
    _replace(inner, "doc", b"".join(segments), header)
    received, error = _read_until_error(store, "doc")
    assert received == b"", "plaintext of a reordered object reached the caller"
    assert error.check == "segment 0 of 4"


def test_segment_spliced_from_another_object_raises() -> None:
    store, inner = encrypted_memory()
    store.put("one", BODY)
    store.put("two", BODY)
    one, header = _ciphertext(inner, "one")
    two, _ = _ciphertext(inner, "two")
    spliced = one[:CIPHER_SEGMENT] + two[CIPHER_SEGMENT : 2 * CIPHER_SEGMENT] + one[2 * CIPHER_SEGMENT :]
    _replace(inner, "one", spliced, header)
    with pytest.raises(IntegrityError, match="segment 1 of 4"):
        store.get_bytes("one")


def test_object_moved_to_another_key_raises() -> None:
    store, inner = encrypted_memory()
    store.put("here", b"bound to its key")
    inner.copy("here", "there")
    with pytest.raises(IntegrityError) as caught:
        store.get_bytes("there")
    assert caught.value.check == "header"
    assert caught.value.key == "there"


def test_wrong_key_of_the_same_name_raises_naming_the_key() -> None:
    store, inner = encrypted_memory()
    store.put("doc", b"secret")
    impostor = EncryptedStorage(inner, Keyring([LocalKey("key-a", bytes(32))], active="key-a"))
    with pytest.raises(IntegrityError, match="key-a") as caught:
        impostor.head("doc")
    assert caught.value.key_id == "key-a"


def test_unknown_key_id_raises() -> None:
    store, inner = encrypted_memory()
    store.put("doc", b"secret")
    without_a = EncryptedStorage(inner, Keyring([KEY_B], active="key-b"))
    with pytest.raises(IntegrityError) as caught:
        without_a.get_bytes("doc")
    assert (caught.value.key_id, caught.value.check) == ("key-a", "key lookup")


def test_tampered_header_raises() -> None:
    store, inner = encrypted_memory()
    store.put("doc", b"secret", metadata={"owner": "a"})
    ciphertext, header = _ciphertext(inner, "doc")
    tampered = header[:-3] + ("A" if header[-3] != "A" else "B") + header[-2:]
    _replace(inner, "doc", ciphertext, tampered)
    with pytest.raises(IntegrityError, match="header"):
        store.head("doc")


def test_object_without_a_header_raises() -> None:
    store, inner = encrypted_memory()
    inner.put("plain", b"written around the encryption")
    with pytest.raises(IntegrityError, match="no encryption header"):
        store.get_bytes("plain")


def test_stream_that_ends_inside_a_segment_raises_after_the_whole_segments_before_it() -> None:
    store, inner = encrypted_memory()
    store.put("doc", BODY)
    cut = 2 * CIPHER_SEGMENT + 7  # the store below reports the whole size, then its stream breaks off

    class Breaking(MemoryStore):
        def get(self, key: str, *, byte_range: Any = None, timeout: float | None = None) -> ObjectReader:
            ciphertext = inner.get_bytes(key)[:cut]
            return ObjectReader(inner.head(key), iter([ciphertext[:1000], ciphertext[1000:]]))

    received, error = _read_until_error(EncryptedStorage(Breaking(), keyring()), "doc")
    assert received == BODY[: 2 * SEGMENT_SIZE], "the segments read whole before the break were not returned"
    assert error.check == "segment 2 of 4", f"the error names {error.check!r}"
    assert "truncated while read" in str(error)

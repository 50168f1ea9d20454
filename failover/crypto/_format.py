"""The object format: Tink's AES-GCM-HKDF streaming AEAD, with its header kept in object metadata.

We follow Tink's streaming AEAD (AES-GCM-HKDF streaming) rather than the AWS Encryption SDK's framed
format: Tink's segment nonces carry the segment index and a last-segment flag, so any segment can be
opened alone and in any order (a range read opens only the segments it touches), and the plaintext
size follows from the ciphertext size. Format version 1::

    ciphertext  = segment_0 || segment_1 || ... || segment_{n-1}     (the object's bytes)
    segment_i   = AES-256-GCM(segment_key, nonce_i, plaintext_i)     (64 KiB of plaintext + 16-byte tag)
    nonce_i     = nonce_prefix (7) || i (4, big-endian) || last (1: 0x01 on the last segment, else 0x00)
    keys        = HKDF-SHA256(data_key, salt, info = "failover/encryption/v1" 0x00 object_key)
                  -> segment_key (32) || header_key (32)

Every object has at least one segment (an empty object is one empty last segment), and every segment
but the last holds exactly 64 KiB, so ``plaintext size = ciphertext size - 16 * segments``.

The header (version 1 || salt (32) || nonce prefix (7) || key id || wrapped data key || sealed) is
stored in the object's metadata under `HEADER_NAME`, base64url. ``sealed`` is AES-256-GCM under the
header key (nonce zero: the key is used once) of the caller's content type and metadata, the plaintext
size and sha256, with every header byte before it as associated data. As in Tink, the object's key
is the associated data of the stream and enters the key derivation: a ciphertext moved or copied to
another key, spliced with another object's segments, truncated, extended or reordered fails.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from failover.crypto._aead import KEY_SIZE, TAG_SIZE, Aead, derive, load_aead
from failover.errors import IntegrityError

__all__ = [
    "HEADER_NAME",
    "SEGMENT_SIZE",
    "Header",
    "Sealed",
    "ciphertext_size",
    "plaintext_size",
    "segment_count",
]

VERSION = 1
SEGMENT_SIZE = 64 * 1024  # plaintext bytes per segment; fixed per format version, so sizes can be listed
CIPHER_SEGMENT = SEGMENT_SIZE + TAG_SIZE
HEADER_NAME = "encryption"
SALT_SIZE = KEY_SIZE
PREFIX_SIZE = 7
_INFO = b"failover/encryption/v1\x00"


def segment_count(plaintext: int) -> int:
    return max(1, -(-plaintext // SEGMENT_SIZE))


def ciphertext_size(plaintext: int) -> int:
    return plaintext + TAG_SIZE * segment_count(plaintext)


def plaintext_size(ciphertext: int) -> int | None:
    """The plaintext size behind ``ciphertext`` bytes, or None if no plaintext encrypts to that size."""
    segments = -(-ciphertext // CIPHER_SEGMENT)
    last = ciphertext - (segments - 1) * CIPHER_SEGMENT
    if segments < 1 or last < TAG_SIZE or (last == TAG_SIZE and segments > 1):
        return None
    return ciphertext - TAG_SIZE * segments


def nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I?", index, last)


@dataclass(frozen=True, slots=True)
class Sealed:
    """What the header hides from the providers."""

    size: int
    sha256: str
    content_type: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        doc = {"n": self.size, "s": self.sha256, "t": self.content_type, "m": dict(self.metadata)}
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Sealed:
        doc = json.loads(raw)
        return cls(int(doc["n"]), str(doc["s"]), doc["t"], {str(k): str(v) for k, v in doc["m"].items()})


@dataclass(frozen=True, slots=True)
class Header:
    """One object's header: enough, with the keyring, to open any of its segments."""

    salt: bytes
    prefix: bytes
    key_id: str
    wrapped: bytes
    sealed: bytes  # the sealed `Sealed`, tag included

    @staticmethod
    def fresh_salt() -> tuple[bytes, bytes]:
        return os.urandom(SALT_SIZE), os.urandom(PREFIX_SIZE)

    def clear_part(self) -> bytes:
        key_id = self.key_id.encode()
        return (
            bytes([VERSION])
            + self.salt
            + self.prefix
            + struct.pack(">B", len(key_id))
            + key_id
            + struct.pack(">H", len(self.wrapped))
            + self.wrapped
        )

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.clear_part() + self.sealed).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str, *, key: str) -> Header:
        def broken(what: str) -> IntegrityError:
            return IntegrityError(f"the encryption header is malformed: {what}", check="header", key=key)

        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise broken("not base64") from None
        if not raw or raw[0] != VERSION:
            raise broken(f"unknown format version {raw[:1].hex() or 'none'}")
        at = 1 + SALT_SIZE + PREFIX_SIZE
        if len(raw) < at + 1:
            raise broken("too short")
        salt, prefix = raw[1 : 1 + SALT_SIZE], raw[1 + SALT_SIZE : at]
        id_len = raw[at]
        key_id = raw[at + 1 : at + 1 + id_len]
        at += 1 + id_len
        if len(key_id) != id_len or len(raw) < at + 2:
            raise broken("too short")
        (wrapped_len,) = struct.unpack(">H", raw[at : at + 2])
        wrapped = raw[at + 2 : at + 2 + wrapped_len]
        sealed = raw[at + 2 + wrapped_len :]
        if len(wrapped) != wrapped_len or len(sealed) < TAG_SIZE:
            raise broken("too short")
        try:
            key_id_text = key_id.decode()
        except UnicodeDecodeError:
            raise broken("the key id is not UTF-8") from None
        return cls(salt, prefix, key_id_text, wrapped, sealed)


class ObjectKeys:
    """The derived keys of one object, and the segment and header operations that use them."""

    def __init__(self, data_key: bytes, *, salt: bytes, prefix: bytes, key: str, key_id: str) -> None:
        aesgcm, self._invalid_tag = load_aead("EncryptedStorage")
        derived = derive(data_key, salt=salt, info=_INFO + key.encode(), length=2 * KEY_SIZE)
        self._segments: Aead = aesgcm(derived[:KEY_SIZE])
        self._header: Aead = aesgcm(derived[KEY_SIZE:])
        self._prefix = prefix
        self.key = key
        self.key_id = key_id

    def seal_header(self, clear_part: bytes, sealed: Sealed) -> bytes:
        return self._header.encrypt(bytes(12), sealed.to_bytes(), clear_part)

    def open_header(self, header: Header) -> Sealed:
        try:
            raw = self._header.decrypt(bytes(12), header.sealed, header.clear_part())
        except self._invalid_tag:
            raise IntegrityError(
                "the object's header failed authentication: a wrong key, a tampered header, or an object"
                " moved from another key",
                key_id=self.key_id,
                check="header",
                key=self.key,
            ) from None
        return Sealed.from_bytes(raw)

    def seal_segment(self, index: int, last: bool, plaintext: bytes | memoryview) -> bytes:
        return self._segments.encrypt(nonce(self._prefix, index, last), plaintext, None)

    def seal_segment_into(self, index: int, last: bool, plaintext: memoryview, out: memoryview) -> None:
        """Seal into ``out``, exactly ``len(plaintext) + TAG_SIZE`` bytes: no copy of the ciphertext."""
        self._segments.encrypt_into(nonce(self._prefix, index, last), plaintext, None, out)

    def open_segment(self, index: int, count: int, ciphertext: bytes | memoryview) -> bytes:
        try:
            return self._segments.decrypt(nonce(self._prefix, index, index == count - 1), ciphertext, None)
        except self._invalid_tag:
            raise IntegrityError(
                "a segment failed authentication: tampered, reordered, truncated or from another object",
                key_id=self.key_id,
                check=f"segment {index} of {count}",
                key=self.key,
            ) from None

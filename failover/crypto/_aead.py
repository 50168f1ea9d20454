"""The primitives, from `cryptography`, imported on first use: the core of failover imports no SDK.

AES-256-GCM for every segment, message and sealed header; HKDF-SHA256 to derive a fresh key per object
and per message from a master (or data) key and a random salt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from failover.errors import ConfigError

__all__ = ["KEY_SIZE", "TAG_SIZE", "Aead", "derive", "load_aead"]

KEY_SIZE = 32  # AES-256
TAG_SIZE = 16


class Aead(Protocol):
    """What this package uses of `cryptography`'s ``AESGCM``."""

    def encrypt(self, nonce: bytes, data: bytes | memoryview, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes | memoryview, associated_data: bytes | None) -> bytes: ...

    def encrypt_into(
        self, nonce: bytes, data: bytes | memoryview, associated_data: bytes | None, buf: memoryview
    ) -> int: ...


def load_aead(what: str) -> tuple[Callable[[bytes], Aead], type[Exception]]:
    """``(AESGCM, InvalidTag)``, or `ConfigError` naming the extra when `cryptography` is missing."""
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:
        raise ConfigError(f"install failover[crypto] to use {what}") from exc
    return AESGCM, InvalidTag


def derive(secret: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 of ``secret``: ``length`` bytes bound to ``salt`` and ``info``."""
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    except ImportError as exc:
        raise ConfigError("install failover[crypto] to use encryption") from exc
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)

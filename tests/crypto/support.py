"""Fixed keys for the encryption tests, so a failure reproduces, and a helper to reach the ciphertext."""

from __future__ import annotations

from failover.adapters.memory import MemoryStore
from failover.crypto import EncryptedStorage, Keyring, LocalKey

__all__ = ["KEY_A", "KEY_B", "encrypted_memory", "keyring"]

KEY_A = LocalKey("key-a", bytes(range(32)))
KEY_B = LocalKey("key-b", bytes(range(32, 64)))


def keyring(active: str = "key-a") -> Keyring:
    return Keyring([KEY_A, KEY_B], active=active)


def encrypted_memory(active: str = "key-a") -> tuple[EncryptedStorage, MemoryStore]:
    inner = MemoryStore()
    return EncryptedStorage(inner, keyring(active)), inner

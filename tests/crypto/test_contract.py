"""The storage and queue contracts, through the encrypting wrappers: over memory, and over the
failover wrappers on the emulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.adapters.memory import MemoryStore
from failover.crypto import EncryptedStorage
from failover.interfaces import ObjectStore
from failover.testing.contract import ObjectStoreContract
from tests.crypto.support import keyring


class TestEncryptedMemoryStore(ObjectStoreContract):
    property_examples = 50

    @pytest.fixture
    def store(self) -> Iterator[ObjectStore]:
        store = EncryptedStorage(MemoryStore(), keyring())
        yield store
        store.close()

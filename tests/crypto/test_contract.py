"""The storage and queue contracts, through the encrypting wrappers: over memory, and over the
failover wrappers on the emulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.crypto import EncryptedQueue, EncryptedStorage
from failover.interfaces import MessageQueue, ObjectStore, QueueCapabilities
from failover.testing.contract import MessageQueueContract, ObjectStoreContract
from tests.crypto.support import keyring


class TestEncryptedMemoryStore(ObjectStoreContract):
    property_examples = 50

    @pytest.fixture
    def store(self) -> Iterator[ObjectStore]:
        store = EncryptedStorage(MemoryStore(), keyring())
        yield store
        store.close()


class TestEncryptedMemoryQueue(MessageQueueContract):
    @pytest.fixture
    def queue(self) -> Iterator[MessageQueue]:
        queue = EncryptedQueue(MemoryQueue(), keyring())
        yield queue
        queue.close()

    @pytest.fixture
    def fifo_queue(self) -> Iterator[MessageQueue]:
        capabilities = QueueCapabilities(max_message_size=1024, max_attributes=10, max_delay=900, fifo=True)
        queue = EncryptedQueue(MemoryQueue("memory-fifo", capabilities=capabilities), keyring())
        yield queue
        queue.close()

"""FailoverStorage keeps the whole ObjectStore contract, in both write modes, over memory stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.adapters.memory import MemoryStore
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage
from failover.testing.contract import ObjectStoreContract

MiB = 1024 * 1024


class TestPrimaryFailoverStorage(ObjectStoreContract):
    large_object_size = 16 * MiB  # copied to both stores in the background: keep the suite quick
    property_examples = 10

    @pytest.fixture
    def store(self) -> Iterator[ObjectStore]:
        storage = FailoverStorage([MemoryStore("first"), MemoryStore("second")])
        yield storage
        storage.close()


class TestMirrorFailoverStorage(ObjectStoreContract):
    large_object_size = 16 * MiB
    property_examples = 10

    @pytest.fixture
    def store(self) -> Iterator[ObjectStore]:
        storage = FailoverStorage([MemoryStore("first"), MemoryStore("second")], mode="mirror")
        yield storage
        storage.close()

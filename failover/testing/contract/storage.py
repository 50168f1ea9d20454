"""`ObjectStoreContract`: every behaviour an `ObjectStore` promises, as pytest tests."""

from __future__ import annotations

import pytest

from failover.interfaces import ObjectStore
from failover.testing.contract._storage_data import StorageDataContract
from failover.testing.contract._storage_inputs import StorageInputsContract
from failover.testing.contract._storage_keys import StorageKeysContract

__all__ = ["ObjectStoreContract"]


class ObjectStoreContract(StorageDataContract, StorageKeysContract, StorageInputsContract):
    """Subclass it as ``Test...`` and override the `store` fixture with a fresh, empty store.

    Class attributes size the heavy tests: ``large_object_size`` and ``large_object_peak_limit``
    (the streamed object and the Python memory it may cost), ``listing_keys`` (the paging test),
    ``large_condition_size`` (a body that takes the adapter's chunked upload path) and
    ``property_examples`` (hypothesis examples against the store).
    """

    @pytest.fixture
    def store(self) -> ObjectStore:
        raise NotImplementedError("a binding of ObjectStoreContract overrides the `store` fixture")

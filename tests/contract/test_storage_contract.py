"""The object-store contract, bound to every storage adapter.

Each binding imports its adapter inside the fixture, so an adapter that cannot be built fails its
own binding's tests and no other's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.adapters.memory import MemoryStore
from failover.interfaces import ObjectStore
from failover.testing.contract import ObjectStoreContract
from failover.testing.emulators import LocalClouds

# Real GCS enforces preconditions on resumable uploads; fake-gcs-server 1.54 ignores them there (fixed
# upstream after 1.54), so the store keeps declaring conditional_large_writes.
_GCS_RESUMABLE_GAP = "fake-gcs-server 1.54 ignores ifGenerationMatch on resumable uploads (objects over 8 MiB)"
# Real GCS answers 412 to a delete whose ifGenerationMatch names a replaced generation; fake-gcs-server
# 1.54 ignores the parameter on deletes (fsouza/fake-gcs-server#1282, fixed upstream by #2343).
_GCS_DELETE_GAP = "fake-gcs-server 1.54 ignores ifGenerationMatch on deletes"


class TestMemoryStore(ObjectStoreContract):
    property_examples = 100

    @pytest.fixture
    def store(self) -> Iterator[ObjectStore]:
        store = MemoryStore()
        yield store
        store.close()


@pytest.mark.emulator
class TestS3Store(ObjectStoreContract):
    @pytest.fixture
    def store(self, local_clouds: LocalClouds, unique_name: str) -> Iterator[ObjectStore]:
        from failover.adapters.aws.s3 import S3Store

        store = S3Store(local_clouds.aws.s3_config(unique_name))
        yield store
        store.close()


@pytest.mark.emulator
class TestGcsStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, local_clouds: LocalClouds, unique_name: str) -> Iterator[ObjectStore]:
        from failover.adapters.gcp.gcs import GcsStore

        store = GcsStore(local_clouds.gcs.gcs_config(unique_name))
        yield store
        store.close()

    @pytest.mark.xfail(strict=True, reason=_GCS_RESUMABLE_GAP)
    def test_conditional_create_holds_for_large_objects(self, store: ObjectStore) -> None:
        super().test_conditional_create_holds_for_large_objects(store)

    @pytest.mark.xfail(strict=True, reason=_GCS_RESUMABLE_GAP)
    def test_conditional_update_holds_for_large_objects(self, store: ObjectStore) -> None:
        super().test_conditional_update_holds_for_large_objects(store)

    @pytest.mark.xfail(strict=True, reason=_GCS_DELETE_GAP)
    def test_conditional_delete_with_a_stale_etag_spares_the_newer_version(self, store: ObjectStore) -> None:
        super().test_conditional_delete_with_a_stale_etag_spares_the_newer_version(store)


@pytest.mark.emulator
class TestAzureBlobStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, local_clouds: LocalClouds, unique_name: str) -> Iterator[ObjectStore]:
        from failover.adapters.azure.blob import AzureBlobStore

        store = AzureBlobStore(local_clouds.azure.azure_blob_config(unique_name))
        yield store
        store.close()

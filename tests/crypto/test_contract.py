"""The storage and queue contracts, through the encrypting wrappers: over memory, and over the
failover wrappers on the emulators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.crypto import EncryptedQueue, EncryptedStorage
from failover.errors import InvalidRequest, NotFound
from failover.interfaces import MessageQueue, ObjectStore, QueueCapabilities
from failover.keys import MAX_USER_METADATA_BYTES
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage
from failover.testing.contract import MessageQueueContract, ObjectStoreContract
from failover.testing.emulators import LocalClouds
from tests.crypto.support import keyring

# The caller's metadata EncryptedStorage takes beside its sealed header (about 1,350 bytes measured
# with a short key name; the header grows with the name), well inside S3's 2 KB.
SEALED_METADATA_LIMIT = 1200

MiB = 1024 * 1024
# Both fail the same way without encryption (FailoverStorage over S3 and GCS on the emulators, measured
# 2026-12-03): gaps of the failover layer below, not of the encrypting wrappers, which pass what they get.
_PLAIN_PROVIDER_GAP = "FailoverQueue's messages name the member's provider ('aws'), the queue says 'failover'"


class _SealedMetadata:
    """EncryptedStorage seals the caller's metadata into one entry of the provider's metadata, so it
    takes less than a plain store: metadata that fits is stored and read back, more is refused
    before any store is called."""

    def test_metadata_at_the_limit_with_the_longest_stamp_is_stored_within_the_providers_limit(
        self, store: ObjectStore
    ) -> None:
        fits = {"m0": "x" * (SEALED_METADATA_LIMIT - 2)}
        store.put("meta-limit", b"x", metadata=fits)
        assert dict(store.head("meta-limit").metadata) == fits
        with pytest.raises(InvalidRequest, match="metadata"):
            store.put("meta-over", b"x", metadata={"m0": "x" * (MAX_USER_METADATA_BYTES - 2)})
        with pytest.raises(NotFound):
            store.head("meta-over")


class TestEncryptedMemoryStore(_SealedMetadata, ObjectStoreContract):
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


@pytest.mark.emulator
class TestEncryptedFailoverStorageOnEmulators(_SealedMetadata, ObjectStoreContract):
    """Encrypted once above, replicated below: S3 first, GCS second, in primary mode."""

    large_object_size = 16 * MiB
    # A put holds an 8 MiB S3 part and its copy while the background copy to GCS holds an 8 MiB
    # resumable chunk: measured 15.9 to 22.9 MiB alone and 24.6 MiB under CI's three workers, the same
    # at 48 MiB (bounded, not growing with the object). The contract's 24 MiB leaves no room for the
    # background copy.
    large_object_peak_limit = 32 * MiB
    property_examples = 10

    @pytest.fixture
    def store(self, local_clouds: LocalClouds, unique_name: str, tmp_path: Path) -> Iterator[ObjectStore]:
        from failover.adapters.aws.s3 import S3Store
        from failover.adapters.gcp.gcs import GcsStore

        stores: list[ObjectStore] = [
            S3Store(local_clouds.aws.s3_config(unique_name)),
            GcsStore(local_clouds.gcs.gcs_config(unique_name)),
        ]
        storage = EncryptedStorage(FailoverStorage(stores, journal=tmp_path / "journal.sqlite"), keyring())
        yield storage
        storage.close()


@pytest.mark.emulator
class TestEncryptedFailoverQueueOnEmulators(MessageQueueContract):
    """Sealed above, failed over below: SQS first, Azure Queue second."""

    @pytest.fixture
    def queue(self, local_clouds: LocalClouds, unique_name: str, tmp_path: Path) -> Iterator[MessageQueue]:
        from failover.adapters.aws.sqs import SqsQueue
        from failover.adapters.azure.queue import AzureQueue

        queues: list[MessageQueue] = [
            SqsQueue(local_clouds.aws.sqs_config(unique_name)),
            AzureQueue(local_clouds.azure.azure_queue_config(unique_name)),
        ]
        queue = EncryptedQueue(FailoverQueue(queues, dedup=tmp_path / "dedup.sqlite"), keyring())
        yield queue
        queue.close()

    @pytest.mark.xfail(strict=True, reason=_PLAIN_PROVIDER_GAP)
    def test_message_names_its_provider_and_queue(self, queue: MessageQueue) -> None:
        super().test_message_names_its_provider_and_queue(queue)

    @pytest.fixture
    def fifo_queue(self, local_clouds: LocalClouds, unique_name: str, tmp_path: Path) -> Iterator[MessageQueue]:
        from failover.adapters.aws.sqs import SqsQueue

        fifo = SqsQueue(local_clouds.aws.sqs_config(unique_name + ".fifo", fifo=True))
        queue = EncryptedQueue(FailoverQueue([fifo], dedup=tmp_path / "dedup.sqlite"), keyring())
        yield queue
        queue.close()

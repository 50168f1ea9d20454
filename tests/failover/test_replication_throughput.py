"""The replicator keeps up with one writer under the default settings, on the local clouds.

One writer puts 1 KiB objects (new keys, at most 100 a second) to S3, GCS and Azure in primary mode
for a few seconds; the copies each secondary store received meanwhile are compared with the puts:
a ratio, not a wall-clock rate, since this machine's speed varies with its load.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.adapters.azure.blob import AzureBlobStore
from failover.adapters.gcp.gcs import GcsStore
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds

pytestmark = pytest.mark.emulator

RATE = 100.0  # puts a second, at most
SECONDS = 8.0


def test_the_replicator_copies_as_fast_as_one_writer_puts(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    stores: list[ObjectStore] = [
        S3Store(local_clouds.aws.s3_config(unique_name)),
        GcsStore(local_clouds.gcs.gcs_config(unique_name)),
        AzureBlobStore(local_clouds.azure.azure_blob_config(unique_name)),
    ]
    storage = FailoverStorage(stores, journal=tmp_path / "journal.sqlite")
    try:
        puts = 0
        started = time.monotonic()
        while (now := time.monotonic()) < started + SECONDS:
            ahead = started + puts / RATE - now
            if ahead > 0:
                time.sleep(ahead)
            storage.put(f"k{puts:05d}", b"x" * 1024)
            puts += 1
        backlog = storage.journal.backlog()
        elapsed = time.monotonic() - started
    finally:
        storage.close()
    copied = {store.name: puts - backlog.get(store.name, 0) for store in stores[1:]}
    rates = {name: round(count / elapsed) for name, count in copied.items()}
    print(f"{puts / elapsed:.0f} puts/s; copies/s {rates}")
    for name, count in copied.items():
        assert count >= 0.8 * puts, f"{name} received {count} copies of {puts} puts in {elapsed:.1f} s"

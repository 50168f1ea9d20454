"""Writes and listings on the local clouds: mirror puts acknowledged at the quorum while one provider is
slow; listings right after an outage agree with the journal."""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.health import HealthState
from failover.interfaces import ObjectInfo, ObjectStore
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from failover.testing.faulty import refused
from tests.failover.storage_support import TIMEOUTS, WAIT, Clouds, drain_until_empty

pytestmark = pytest.mark.emulator


class Counting(io.BytesIO):
    """A seekable file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


@pytest.fixture
def proxy(local_clouds: LocalClouds) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as started:
        yield started


def test_mirror_put_with_one_provider_half_a_second_slow_is_acked_at_the_quorum(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    config = local_clouds.aws.s3_config(unique_name, endpoint_url=proxy.endpoint, **TIMEOUTS)
    clouds = Clouds(local_clouds, unique_name, tmp_path, config, proxy=proxy, azure=True, options={"mode": "mirror"})
    storage = clouds.storage
    direct = S3Store(local_clouds.aws.s3_config(unique_name))
    try:
        assert storage.write_quorum == 2
        storage.put("warm-up", b"w")  # clients built, connections open
        proxy.set(Fault.delay(0.5))
        written = {}
        took = []
        for index in range(9):
            started = time.perf_counter()
            written[f"k{index}"] = storage.put(f"k{index}", b"x" * 64).version
            took.append(time.perf_counter() - started)
        p50 = statistics.median(took)
        assert p50 < 0.25, f"mirror put p50 {p50 * 1000:.0f} ms with S3 0.5 s slow (all: {took})"
        proxy.clear()
        assert storage.wait_for_writes(WAIT), "the background writes did not end"

        drain_until_empty(storage)
        assert {key: direct.head(key).version for key in written} == written, "S3 missed a version"
    finally:
        direct.close()
        clouds.close()


def _listed(clouds: Clouds, prefix: str) -> list[str]:
    return [entry.key for entry in clouds.storage.list(prefix) if isinstance(entry, ObjectInfo)]


def test_a_listing_right_after_an_s3_outage_shows_its_writes_and_hides_its_deletes(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    config = local_clouds.aws.s3_config(unique_name, endpoint_url=proxy.endpoint, **TIMEOUTS)
    clouds = Clouds(local_clouds, unique_name, tmp_path, config, proxy=proxy, options={"replicate": False})
    try:
        for index in range(4):
            clouds.storage.put(f"p/old{index}", b"old")
        clouds.storage.drain(timeout=WAIT)
        proxy.set(Fault.refuse())
        for index in range(3):
            clouds.storage.put(f"p/new{index}", b"new")
        clouds.storage.delete("p/old0")
        clouds.storage.delete("p/old1")
        proxy.clear()
        expected = ["p/new0", "p/new1", "p/new2", "p/old2", "p/old3"]
        assert _listed(clouds, "p/") == expected, "the listing right after the outage disagrees with the journal"
        # Now only S3 answers, and it has received none of it: the journal corrects its listing.
        clouds.gcs.fail(refused())
        deadline = time.monotonic() + WAIT
        while clouds.aws_state() is HealthState.DOWN and time.monotonic() < deadline:
            time.sleep(0.05)
        s3_lists = clouds.s3.foreground["list"]
        assert _listed(clouds, "p/") == expected, "S3's listing, behind, disagrees with the journal"
        assert clouds.s3.foreground["list"] == s3_lists + 1, "S3 did not answer the listing"
        assert clouds.storage.journal.backlog() == {clouds.aws_name: 5}, "S3 caught up: nothing was corrected"
    finally:
        clouds.close()


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_put_through_each_sdk_reads_a_seekable_body_once_to_hash_and_once_to_send_but_over_http(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, kind: str
) -> None:
    from failover.adapters.azure.blob import AzureBlobStore
    from failover.adapters.gcp.gcs import GcsStore

    store: ObjectStore
    if kind == "s3":
        store = S3Store(local_clouds.aws.s3_config(unique_name, ensure=True))
    elif kind == "gcs":
        store = GcsStore(local_clouds.gcs.gcs_config(unique_name, ensure=True))
    else:
        store = AzureBlobStore(local_clouds.azure.azure_blob_config(unique_name, ensure=True))
    data = bytes(range(256)) * 4096 * 3  # 3 MiB: one request on every provider
    body = Counting(data)
    with FailoverStorage([store], journal=tmp_path / "journal.sqlite") as storage:
        storage.put("k", cast(BinaryIO, body))
        assert storage.get_bytes("k") == data
    # botocore signs the payload (a read of its own) over plain HTTP only, as to moto here; over HTTPS
    # S3 gets UNSIGNED-PAYLOAD and the checksum the adapter passes, so the body is read twice.
    expected = 3 if kind == "s3" else 2
    assert body.bytes_read / len(data) == expected, f"the body was read {body.bytes_read / len(data):.2f} times"

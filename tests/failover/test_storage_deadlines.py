"""Every attempt is bounded by the call's deadline, measured on the local clouds through a FaultProxy.

A store that trickles its answer (each socket read in time, the whole transfer far too slow) must not
hold a read past the deadline; a hung S3 must not hold a write a second longer than its attempt
timeout (botocore's ``Expect: 100-continue`` wait), so that a healthy GCS still takes the write.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.adapters.gcp.gcs import GcsStore
from failover.errors import AllProvidersFailed
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.failover.storage_support import SETTINGS

pytestmark = pytest.mark.emulator

MIB = 1024 * 1024
SLACK = 1.0  # seconds a call may end after its deadline (a chunk in flight, thread hand-offs)

StoreAt = Callable[[LocalClouds, str, str], ObjectStore]
STORES: dict[str, tuple[StoreAt, Callable[[LocalClouds], str]]] = {
    "s3": (
        lambda clouds, bucket, url: S3Store(clouds.aws.s3_config(bucket, endpoint_url=url)),
        lambda c: c.aws.endpoint,
    ),
    "gcs": (
        lambda clouds, bucket, url: GcsStore(clouds.gcs.gcs_config(bucket, endpoint_url=url)),
        lambda c: c.gcs.endpoint,
    ),
}


@pytest.mark.parametrize("provider", list(STORES))
def test_get_bytes_from_a_trickling_store_ends_near_the_deadline(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, provider: str
) -> None:
    make, endpoint_of = STORES[provider]
    data = os.urandom(MIB)
    with FaultProxy.in_front_of(endpoint_of(local_clouds)) as proxy:
        store = make(local_clouds, unique_name, proxy.endpoint)
        store.put("k", data)
        storage = FailoverStorage([store], journal=tmp_path / "journal.sqlite", settings=SETTINGS, replicate=False)
        try:
            proxy.set(Fault.bandwidth(100_000))  # 1 MiB takes 10.5 s
            started = time.monotonic()
            with pytest.raises(AllProvidersFailed):
                storage.get_bytes("k", timeout=3.0)
            took = time.monotonic() - started
        finally:
            proxy.clear()
            storage.close()
    print(f"{provider}: get_bytes of 1 MiB at 100 KB/s with a 3 s deadline ended after {took:.2f} s")
    assert took < 3.0 + SLACK, f"get_bytes took {took:.2f} s with a 3 s deadline"


def test_put_with_s3_hung_lands_on_gcs_within_a_two_second_deadline(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    settings = replace(SETTINGS, deadline=2.0, attempt_timeout=1.0)
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy:
        s3 = S3Store(local_clouds.aws.s3_config(unique_name, endpoint_url=proxy.endpoint, read_timeout=1.0))
        gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name))
        storage = FailoverStorage([s3, gcs], journal=tmp_path / "journal.sqlite", settings=settings, replicate=False)
        try:
            proxy.set(Fault.blackhole())  # connects succeed, nothing answers
            started = time.monotonic()
            storage.put("k", b"v" * 1024)
            took = time.monotonic() - started
        finally:
            proxy.clear()
            storage.close()
    print(f"put with S3 hung (deadline 2 s, attempt timeout 1 s) took {took:.2f} s")
    assert gcs.get_bytes("k") == b"v" * 1024
    assert took < 2.0

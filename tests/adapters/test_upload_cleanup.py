"""A multipart upload that fails part-way leaves nothing behind on S3 (parts are billed until aborted)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import pytest

from failover.adapters.aws import S3Store
from failover.errors import ProviderUnavailable
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.adapters.support import BreaksOnSecondPass

pytestmark = pytest.mark.emulator

MiB = 1024 * 1024
SMALL_PARTS = {"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
BODY = b"p" * (11 * MiB)  # three parts


def _open_uploads(local_clouds: LocalClouds, bucket: str) -> list[Any]:
    direct = S3Store(local_clouds.aws.s3_config(bucket))
    try:
        client = direct.clients.get(None)
        return list(client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    finally:
        direct.close()


@pytest.fixture
def proxy(local_clouds: LocalClouds) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as started:
        yield started


def test_a_body_that_raises_mid_upload_leaves_no_upload(local_clouds: LocalClouds, unique_name: str) -> None:
    def fail() -> None:
        raise OSError("the disk went away")

    store = S3Store(local_clouds.aws.s3_config(unique_name, ensure=True, **SMALL_PARTS))
    try:
        with pytest.raises(OSError, match="disk went away"):
            store.put("big", cast(BinaryIO, BreaksOnSecondPass(BODY, 6 * MiB, fail)))
    finally:
        store.close()
    assert _open_uploads(local_clouds, unique_name) == []


def test_a_connection_cut_mid_upload_leaves_no_upload_once_the_network_is_back(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str
) -> None:
    config = local_clouds.aws.s3_config(
        unique_name, endpoint_url=proxy.endpoint, ensure=True, read_timeout=2.0, **SMALL_PARTS
    )
    store = S3Store(config)
    try:
        with pytest.raises(ProviderUnavailable):
            store.put("big", cast(BinaryIO, BreaksOnSecondPass(BODY, 6 * MiB, lambda: proxy.set(Fault.refuse()))))
        assert len(_open_uploads(local_clouds, unique_name)) == 1, "the abort got through the outage: nothing to test"
        proxy.clear()
        store.put("small", b"after the network came back")
        assert _open_uploads(local_clouds, unique_name) == [], "the upload the reset interrupted was never aborted"
    finally:
        store.close()

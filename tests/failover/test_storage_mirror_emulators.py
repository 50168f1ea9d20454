"""Mirror mode on the local clouds: acknowledged at the quorum while one provider is slow."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.failover.storage_support import TIMEOUTS, WAIT, Clouds

pytestmark = pytest.mark.emulator


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
        assert storage._writes.wait(WAIT), "the background writes did not end"
        storage.drain(timeout=WAIT)
        assert storage.journal.backlog() == {}
        assert {key: direct.head(key).version for key in written} == written, "S3 missed a version"
    finally:
        direct.close()
        clouds.close()

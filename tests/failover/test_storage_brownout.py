"""A brownout under the default settings: S3 answers a third of its requests 0.7 s late.

S3 (behind a `FaultProxy` delaying a seeded third of the requests), GCS and Azure, with the default
`EngineSettings`: S3 must be demoted (DEGRADED, still served as a fallback) and stay so while the
brownout lasts, so that only the reads before the demotion wait the 0.7 s. Counted, not timed against a wall clock: the
number of reads that waited the delay; and with writes mixed in (whose background copies keep
timing S3 while it is demoted), the reads' p99 against the healthy p99 measured in the same test.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.adapters.azure.blob import AzureBlobStore
from failover.adapters.gcp.gcs import GcsStore
from failover.health import HealthState
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy

pytestmark = pytest.mark.emulator

DELAY = 0.7
READS = 500
CLIENTS = 4
# Reads that may wait the delay before S3 is demoted. On a quiet machine the latency rule demotes it
# after the first late read (three runs here: 1 each). Both rules judge S3 against its peers, whose
# latency rises with the machine's load, so a loaded run demotes later: a fresh-clone CI run counted
# 13. The slow-call rule alone needs a fifth of at least 20 calls late, about 7 reads at this
# fraction. Without a demotion a third of the reads, about 167, would wait.
WAITS_BEFORE_DEMOTION = 20


def _storage_with_s3_behind(
    proxy: FaultProxy, local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> tuple[FailoverStorage, list[HealthState]]:
    """S3 through ``proxy``, GCS and Azure, with the default settings; and S3's states as they change."""
    s3 = S3Store(local_clouds.aws.s3_config(unique_name, endpoint_url=proxy.endpoint))
    stores: list[ObjectStore] = [
        s3,
        GcsStore(local_clouds.gcs.gcs_config(unique_name)),
        AzureBlobStore(local_clouds.azure.azure_blob_config(unique_name)),
    ]
    storage = FailoverStorage(stores, journal=tmp_path / "journal.sqlite")
    states: list[HealthState] = []
    storage.on_state_change(lambda name, old, new, reason: states.append(new) if name == s3.name else None)
    return storage, states


def test_reads_during_a_one_in_three_brownout_of_s3_rarely_wait_the_delay(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy:
        storage, states = _storage_with_s3_behind(proxy, local_clouds, unique_name, tmp_path)
        try:
            keys = [f"k{index}" for index in range(20)]
            for key in keys:
                storage.put(key, key.encode() * 100)
            storage.drain(timeout=20)
            proxy.set(Fault.delay(DELAY, fraction=1 / 3))
            waited = 0
            for index in range(READS):
                started = time.monotonic()
                storage.get_bytes(keys[index % len(keys)])
                waited += time.monotonic() - started >= DELAY
        finally:
            proxy.clear()
            storage.close()
    print(f"{waited} of {READS} reads waited the {DELAY} s delay; S3 went through {[s.value for s in states]}")
    assert waited <= WAITS_BEFORE_DEMOTION, f"{waited} of {READS} reads waited the brownout's delay"
    assert states == [HealthState.DEGRADED], f"S3 went through {states} during a steady brownout"


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def test_reads_p99_during_a_one_in_three_brownout_of_s3_with_writes_stays_near_the_healthy_p99(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy:
        storage, states = _storage_with_s3_behind(proxy, local_clouds, unique_name, tmp_path)
        keys = [f"k{index}" for index in range(20)]

        def play(seconds: float) -> list[float]:
            """Four clients, each doing three reads to two writes one at a time, for ``seconds``: the
            latency of each read."""
            ends = time.monotonic() + seconds

            def client(offset: int) -> list[float]:
                reads: list[float] = []
                index = offset
                while time.monotonic() < ends:
                    key = keys[index % len(keys)]
                    if index % 5 >= 3:
                        storage.put(key, f"{key}:{index}".encode() * 50)
                    else:
                        started = time.monotonic()
                        storage.get_bytes(key)
                        reads.append(time.monotonic() - started)
                    index += 1
                return reads

            with ThreadPoolExecutor(CLIENTS) as pool:
                return [latency for reads in pool.map(client, range(CLIENTS)) for latency in reads]

        try:
            for key in keys:
                storage.put(key, key.encode() * 100)
            storage.drain(timeout=20)
            healthy = play(8.0)
            # A brownout is S3 far slower than its peers. On a loaded machine the peers slow down too,
            # and 0.7 s came near the bar for "slow" (3x their p95): S3 went DEGRADED and back three
            # times in a fresh-clone CI run. So the delay is at least 10x the healthy p99 measured here.
            delay = max(DELAY, 10 * p99(healthy))
            proxy.set(Fault.delay(delay, fraction=1 / 3, seed=9))
            brownout = play(15.0)
        finally:
            proxy.clear()
            storage.close()
    ratio = p99(brownout) / p99(healthy)
    print(
        f"healthy: {len(healthy)} reads, p99 {p99(healthy) * 1000:.0f} ms; brownout: {len(brownout)} reads, "
        f"p99 {p99(brownout) * 1000:.0f} ms ({ratio:.1f}x) with {delay:.2f} s late; S3 went through "
        f"{[state.value for state in states]}"
    )
    assert ratio <= 3.0, f"read p99 {ratio:.1f}x the healthy p99 during the brownout; S3: {states}"

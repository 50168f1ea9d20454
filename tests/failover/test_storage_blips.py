"""A short blip of the local network opens every circuit: the next call must not wait for a probe.

S3 and GCS each behind a `FaultProxy` on the local clouds; both refuse connections for about a
second, then heal. The probes are set 30 s out, so only the call itself can find the stores back.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.adapters.gcp.gcs import GcsStore
from failover.errors import AllProvidersFailed
from failover.health import HealthState, ProbeBackoff
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.failover.storage_support import SETTINGS, TIMEOUTS

pytestmark = pytest.mark.emulator


def test_after_a_one_second_blip_of_every_provider_the_next_call_succeeds(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    settings = replace(SETTINGS, probe_backoff=ProbeBackoff(base=30.0, cap=30.0, jitter=0.0))
    with (
        FaultProxy.in_front_of(local_clouds.aws.endpoint) as aws_proxy,
        FaultProxy.in_front_of(local_clouds.gcs.endpoint) as gcs_proxy,
    ):
        s3 = S3Store(local_clouds.aws.s3_config(unique_name, endpoint_url=aws_proxy.endpoint, **TIMEOUTS))
        gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name, endpoint_url=gcs_proxy.endpoint, **TIMEOUTS))
        storage = FailoverStorage([s3, gcs], journal=tmp_path / "journal.sqlite", settings=settings)
        try:
            storage.put("k", b"before")
            aws_proxy.set(Fault.refuse())
            gcs_proxy.set(Fault.refuse())
            with pytest.raises(AllProvidersFailed):
                storage.put("k", b"during")
            assert set(storage.health.states().values()) == {HealthState.DOWN}
            time.sleep(1.0)
            aws_proxy.clear()
            gcs_proxy.clear()
            started = time.monotonic()
            storage.put("k", b"after")
            assert storage.get_bytes("k") == b"after"
            assert time.monotonic() - started < 2.0, "the calls waited for something after the blip"
        finally:
            storage.close()

"""FailoverStorage when one store lacks the bucket, refuses one request, or rejects the credentials.

A missing bucket is that store's fault: its circuit opens with the reason, and the other stores
answer. A 403 on one request (least privilege) is not an outage: the next store is asked and the
circuit stays closed, and a probe refused that way proves the store up. Rejected credentials are an
outage. On the local clouds: moto (one checking IAM policies), fake-gcs-server, Azurite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.adapters.azure.blob import AzureBlobStore
from failover.adapters.gcp.gcs import GcsStore
from failover.errors import AccessDenied, NotFound, Reason
from failover.health import HealthState
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage
from failover.storage._failover import PROBE_KEY
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.failover.storage_support import SETTINGS, TIMEOUTS
from tests.moto_iam import IamMoto, allow_statement, deny_statement

pytestmark = pytest.mark.emulator


def _storage(stores: list[ObjectStore], tmp_path: Path) -> FailoverStorage:
    return FailoverStorage(stores, journal=tmp_path / "journal.sqlite", settings=SETTINGS, replicate=False)


@pytest.fixture
def proxy(local_clouds: LocalClouds) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as started:
        yield started


def test_read_during_an_s3_outage_skips_gcs_whose_bucket_is_missing(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    s3 = S3Store(local_clouds.aws.s3_config(unique_name, endpoint_url=proxy.endpoint, **TIMEOUTS))
    gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name, ensure=False, **TIMEOUTS))  # no bucket on GCS
    azure = AzureBlobStore(local_clouds.azure.azure_blob_config(unique_name, **TIMEOUTS))
    s3.put("k", b"on s3 and azure")
    azure.put("k", b"on s3 and azure")
    storage = _storage([s3, gcs, azure], tmp_path)
    try:
        proxy.set(Fault.refuse())
        assert storage.get_bytes("k") == b"on s3 and azure", "GCS's missing bucket answered NotFound"
        assert storage.head("k").size == len(b"on s3 and azure")
        record = storage.health[gcs.name].record
        assert record.state is HealthState.DOWN, "a store without its bucket stayed in service"
        assert "does not exist" in record.reason, f"the reason does not say the bucket is missing: {record.reason}"
    finally:
        storage.close()


def test_put_with_the_bucket_missing_on_the_primary_lands_on_the_next_store(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    s3 = S3Store(local_clouds.aws.s3_config(unique_name, ensure=False, **TIMEOUTS))  # no bucket on S3
    gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name, **TIMEOUTS))
    storage = _storage([s3, gcs], tmp_path)
    try:
        storage.put("k", b"v")
        assert gcs.get_bytes("k") == b"v"
        assert storage.health[s3.name].state is HealthState.DOWN
    finally:
        storage.close()


def _least_privilege(moto: IamMoto, bucket: str, *denied_prefixes: str) -> S3Store:
    moto.admin_s3().create_bucket(Bucket=bucket)
    moto.set_app_policy(
        allow_statement("s3:*"),
        *(deny_statement("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}*") for prefix in denied_prefixes),
    )
    return S3Store(moto.app_s3_config(bucket, **TIMEOUTS))


def test_a_key_s3_refuses_is_read_from_gcs_and_s3_stays_healthy(
    local_clouds: LocalClouds, least_privilege_moto: IamMoto, unique_name: str, tmp_path: Path
) -> None:
    s3 = _least_privilege(least_privilege_moto, unique_name, "secret/")
    gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name, **TIMEOUTS))
    gcs.put("secret/k", b"from gcs")
    storage = _storage([s3, gcs], tmp_path)
    try:
        for _ in range(2 * SETTINGS.health.consecutive_failures):
            assert storage.get_bytes("secret/k") == b"from gcs"
            assert storage.head("secret/k").size == len(b"from gcs")
        assert storage.health[s3.name].state is HealthState.HEALTHY, "403s on one key opened S3's circuit"
        storage.put("open/k", b"on s3")
        assert s3.get_bytes("open/k") == b"on s3", "writes left S3 after the refusals"
    finally:
        storage.close()


def test_a_key_every_store_refuses_or_lacks_gets_that_answer(
    local_clouds: LocalClouds, least_privilege_moto: IamMoto, unique_name: str, tmp_path: Path
) -> None:
    s3 = _least_privilege(least_privilege_moto, unique_name, "secret/")
    gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name, **TIMEOUTS))
    storage = _storage([s3, gcs], tmp_path)
    try:
        with pytest.raises(NotFound):
            storage.get_bytes("secret/absent")  # S3 refuses, GCS says NotFound: NotFound
        storage.close()
        storage = _storage([s3], tmp_path)
        with pytest.raises(AccessDenied) as caught:
            storage.get_bytes("secret/absent")  # refused by every store
        assert caught.value.reason is Reason.FORBIDDEN
    finally:
        storage.close()


def test_probe_under_least_privilege_finds_s3_up(
    local_clouds: LocalClouds, least_privilege_moto: IamMoto, unique_name: str, tmp_path: Path
) -> None:
    s3 = _least_privilege(least_privilege_moto, unique_name, PROBE_KEY.split("/")[0])  # the canary is denied
    gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name, **TIMEOUTS))
    settings = SETTINGS
    storage = FailoverStorage([s3, gcs], journal=tmp_path / "journal.sqlite", settings=settings, replicate=False)
    try:
        storage.health[s3.name].open_circuit("a blip")
        storage.engine.clock.sleep(settings.probe_backoff.cap + 0.1)
        storage.engine.probe_now()
        assert storage.health[s3.name].state is not HealthState.DOWN, "a probe refused by policy kept S3 DOWN"
    finally:
        storage.close()


def test_rejected_credentials_open_the_circuit_and_probes_keep_it_open(
    local_clouds: LocalClouds, least_privilege_moto: IamMoto, unique_name: str, tmp_path: Path
) -> None:
    s3 = _least_privilege(least_privilege_moto, unique_name)
    gcs = GcsStore(local_clouds.gcs.gcs_config(unique_name, **TIMEOUTS))
    storage = _storage([s3, gcs], tmp_path)
    try:
        storage.put("before", b"v")
        least_privilege_moto.delete_app_key()  # S3 no longer knows the key: InvalidAccessKeyId
        storage.put("during", b"v")
        assert gcs.get_bytes("during") == b"v"
        tracker = storage.health[s3.name]
        assert tracker.state is HealthState.DOWN, "rejected credentials left S3 in service"
        assert tracker.counters().calls == 2, "rejected credentials did not open the circuit at once"
        storage.engine.clock.sleep(SETTINGS.probe_backoff.cap + 0.1)
        storage.engine.probe_now()
        assert tracker.state is HealthState.DOWN, "a probe with rejected credentials closed the circuit"
    finally:
        least_privilege_moto.new_app_key()
        storage.close()

"""FailoverStorage replication on the local clouds: outage writes replay, mirrors, tombstones, ambiguous writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from failover.adapters.aws.s3 import S3Store
from failover.adapters.azure.blob import AzureBlobStore
from failover.adapters.gcp.gcs import GcsStore
from failover.errors import AllProvidersFailed, NotFound, PreconditionFailed
from failover.health import HealthState
from failover.interfaces import ObjectInfo, ObjectStore
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy
from failover.testing.faulty import FaultyStore
from tests.failover.storage_support import SETTINGS, TIMEOUTS, WAIT, wait_for

pytestmark = pytest.mark.emulator

# moto reads a bucket name from the Host of any dotted name unless it starts with "localhost".
HOST = "localhost.aws.failover.test"


class Stores:
    """S3 at ``s3_endpoint`` (a broken name, a proxy), GCS, and Azure if asked; plus direct views to check."""

    def __init__(self, local: LocalClouds, bucket: str, s3_endpoint: str, *, azure: bool = False) -> None:
        self.s3 = S3Store(local.aws.s3_config(bucket, endpoint_url=s3_endpoint, **TIMEOUTS))
        self.gcs = GcsStore(local.gcs.gcs_config(bucket, **TIMEOUTS))
        self.azure = AzureBlobStore(local.azure.azure_blob_config(bucket, **TIMEOUTS)) if azure else None
        self.direct_s3 = S3Store(local.aws.s3_config(bucket, **TIMEOUTS))

    @property
    def all(self) -> list[ObjectStore]:
        stores: list[ObjectStore] = [self.s3, self.gcs]
        return stores if self.azure is None else [*stores, self.azure]

    def close(self) -> None:
        self.direct_s3.close()


def version_on(store: ObjectStore, key: str) -> tuple[str | None, str | None] | None:
    try:
        info = store.head(key)
    except NotFound:
        return None
    return info.version, info.sha256


def acknowledged(info: ObjectInfo) -> tuple[str | None, str | None]:
    return info.version, info.sha256


@pytest.fixture
def proxy(local_clouds: LocalClouds) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as started:
        yield started


def test_put_during_dns_outage_lands_on_gcs_and_replays_to_s3(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    with DnsFaults() as dns:
        dns.alias(HOST, "127.0.0.1")
        stores = Stores(local_clouds, unique_name, f"http://{HOST}:{local_clouds.aws.ports[0]}")
        storage = FailoverStorage(stores.all, settings=SETTINGS, journal=tmp_path / "journal.sqlite")
        try:
            before = storage.put("orders/1", b"before the outage")
            storage.drain(timeout=WAIT)
            dns.fail(HOST)
            during = [storage.put(f"orders/{n}", b"during the outage %d" % n) for n in range(2, 12)]
            assert storage.health[stores.s3.name].state is HealthState.DOWN
            for info in during:
                assert version_on(stores.direct_s3, info.key) is None, f"{info.key} reached S3 during the outage"
                assert version_on(stores.gcs, info.key) == acknowledged(info), f"{info.key} is not on GCS"
                assert storage.get_bytes(info.key) == b"during the outage %d" % int(info.key.split("/")[1])
            assert storage.journal.backlog() == {stores.s3.name: len(during)}

            dns.heal(HOST)
            wait_for(lambda: not storage.journal.backlog(), "the replay to S3")
            for info in [before, *during]:
                assert version_on(stores.direct_s3, info.key) == acknowledged(info), f"{info.key} did not replay"
        finally:
            storage.close()
            stores.close()


def test_mirror_mode_writes_every_store_before_the_ack(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    stores = Stores(local_clouds, unique_name, proxy.endpoint, azure=True)
    storage = FailoverStorage(stores.all, mode="mirror", settings=SETTINGS)
    try:
        written = [storage.put(f"k{n}", b"mirrored %d" % n) for n in range(5)]
        assert stores.azure is not None
        for info in written:
            for store in (stores.direct_s3, stores.gcs, stores.azure):
                assert version_on(store, info.key) == acknowledged(info), f"{info.key} missing on {store.name}"
        assert storage.journal.backlog() == {}, "a mirrored write left something to replicate"

        proxy.set(Fault.refuse())  # two of three stores still make the quorum
        during = storage.put("k-during", b"two of three")
        assert version_on(stores.gcs, "k-during") == acknowledged(during)
        assert storage.journal.newest_pending("k-during") == {stores.s3.name}
        proxy.clear()
        wait_for(lambda: not storage.journal.backlog(), "replication completing S3's copy")
        assert version_on(stores.direct_s3, "k-during") == acknowledged(during)
    finally:
        storage.close()
        stores.close()


def test_mirror_write_below_quorum_fails_and_its_copy_is_completed_later(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    stores = Stores(local_clouds, unique_name, proxy.endpoint)
    storage = FailoverStorage(stores.all, mode="mirror", write_quorum=2, settings=SETTINGS)
    try:
        proxy.set(Fault.refuse())
        with pytest.raises(AllProvidersFailed, match="quorum"):
            storage.put("k", b"one copy is not enough")
        on_gcs = version_on(stores.gcs, "k")
        assert on_gcs is not None, "the copy that was made did not stay"
        proxy.clear()
        wait_for(lambda: not storage.journal.backlog(), "replication completing the copy")
        assert version_on(stores.direct_s3, "k") == on_gcs
    finally:
        storage.close()
        stores.close()


def test_delete_during_outage_is_replayed_to_s3_as_a_tombstone(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    stores = Stores(local_clouds, unique_name, proxy.endpoint)
    storage = FailoverStorage(stores.all, settings=SETTINGS)
    try:
        kept = storage.put("kept", b"stays")
        storage.put("gone", b"deleted during the outage")
        storage.drain(timeout=WAIT)
        proxy.set(Fault.refuse())
        storage.delete("gone")
        assert version_on(stores.gcs, "gone") is None
        assert version_on(stores.direct_s3, "gone") is not None, "the delete reached S3 during the outage"
        with pytest.raises(NotFound):
            storage.get_bytes("gone")  # S3 still holds it, but may not be read: it missed the delete
        proxy.clear()
        wait_for(lambda: not storage.journal.backlog(), "the tombstone replaying to S3")
        assert version_on(stores.direct_s3, "gone") is None, "the tombstone did not delete the object on S3"
        assert version_on(stores.direct_s3, "kept") == acknowledged(kept)
    finally:
        storage.close()
        stores.close()


def test_put_whose_answer_was_lost_is_resolved_by_comparing_stamps(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    stores = Stores(local_clouds, unique_name, proxy.endpoint)
    # Replication leaves a store alone for background_pause seconds after a call to it failed.
    storage = FailoverStorage(stores.all, settings=replace(SETTINGS, background_pause=0.5))
    try:
        proxy.set(Fault.stall())  # the request is held; the client times out and hears nothing
        info = storage.put("ambiguous", b"sent, then the answer was lost")
        assert version_on(stores.gcs, "ambiguous") == acknowledged(info)
        assert storage.journal.newest_pending("ambiguous") == {stores.s3.name}
        proxy.clear()  # the held request now reaches S3, late
        wait_for(lambda: not storage.journal.backlog(), "the replicator resolving the ambiguous write")
        assert version_on(stores.direct_s3, "ambiguous") == acknowledged(info)
        assert storage.get_bytes("ambiguous") == b"sent, then the answer was lost"
    finally:
        storage.close()
        stores.close()


class AfterHead(FaultyStore):
    """``inner`` that runs ``hook`` once right after a head returns: between the replicator's look at
    a store and its delete there."""

    hook: Callable[[], object] | None = None

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        info = super().head(key, timeout=timeout)
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return info


@pytest.mark.parametrize("target", ["s3", "azure"])
def test_replicated_delete_spares_a_newer_put_from_another_writer_on_the_emulator(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, target: str
) -> None:
    def build(kind: str) -> ObjectStore:
        if kind == "s3":
            return S3Store(local_clouds.aws.s3_config(unique_name, **TIMEOUTS))
        if kind == "azure":
            return AzureBlobStore(local_clouds.azure.azure_blob_config(unique_name, **TIMEOUTS))
        return GcsStore(local_clouds.gcs.gcs_config(unique_name, **TIMEOUTS))

    journal = tmp_path / "journal.sqlite"
    watched = AfterHead(build(target))
    # x prefers GCS, so its delete lands there and the tombstone is pending on the target; y prefers
    # the target, so its put lands there.
    x = FailoverStorage([build("gcs"), watched], journal=journal, settings=SETTINGS, replicate=False, writer_id="x")
    y = FailoverStorage(
        [build(target), build("gcs")], journal=journal, settings=SETTINGS, replicate=False, writer_id="y"
    )
    direct = build(target)
    try:
        y.put("k", b"v1")
        y.drain(timeout=WAIT)
        x.delete("k")
        watched.hook = lambda: y.put("k", b"v2")
        x.drain(timeout=WAIT)
        y.drain(timeout=WAIT)
        assert direct.get_bytes("k") == b"v2", "the replicated delete erased the newer put"
        assert y.get_bytes("k") == b"v2"
    finally:
        x.close()
        y.close()
        direct.close()


@pytest.mark.parametrize("secondary", ["gcs", "azure"])
def test_compare_and_swap_keeps_working_when_s3_goes_away(
    secondary: str, local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    # The etag FailoverStorage hands out is the version stamp; underneath, GCS checks its generation
    # and Azure its ETag, so the swap stays atomic on whichever store takes it.
    stores = Stores(local_clouds, unique_name, proxy.endpoint, azure=secondary == "azure")
    chosen = [stores.s3, stores.azure if stores.azure is not None else stores.gcs]
    storage = FailoverStorage(chosen, settings=SETTINGS, journal=tmp_path / "journal.sqlite")
    try:
        first = storage.put("counter", b"1")
        storage.drain(timeout=WAIT)
        proxy.set(Fault.refuse())
        second = storage.put("counter", b"2", if_match=storage.head("counter").etag)
        assert second.store == chosen[1].name, f"the swap landed on {second.store}"
        with pytest.raises(PreconditionFailed):
            storage.put("counter", b"3", if_match=first.etag)
        assert storage.get_bytes("counter") == b"2"
        proxy.clear()
        storage.drain(timeout=WAIT)
        assert version_on(stores.direct_s3, "counter") == acknowledged(second)
    finally:
        storage.close()
        stores.close()

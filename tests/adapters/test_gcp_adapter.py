"""What the GCS and Pub/Sub adapters do beyond the shared contract, on fake-gcs-server and the Pub/Sub emulator."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from failover.adapters.gcp import GcsStore, PubSubQueue
from failover.adapters.gcp.gcs import READ_CHUNK
from failover.adapters.gcp.pubsub import MAX_MESSAGE_SIZE
from failover.config import GcsConfig, PubSubConfig, parse_config
from failover.engine import EngineSettings
from failover.errors import ConfigError, Disposition, InvalidRequest, PreconditionFailed, ProviderUnavailable
from failover.interfaces import Message, MessageQueue, ObjectInfo, ObjectStore, OutgoingMessage
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds

pytestmark = pytest.mark.emulator

_MIB = 1024 * 1024
_LARGE = 8 * _MIB + 1  # one byte past the SDK's multipart limit: the resumable upload path
_RESUMABLE_GAP = (
    "fake-gcs-server 1.54 ignores ifGenerationMatch on resumable uploads (objects over 8 MiB); "
    "real GCS honours it, and fake-gcs-server fixed it after 1.54"
)


@pytest.fixture
def gcs(local_clouds: LocalClouds, unique_name: str) -> Iterator[GcsStore]:
    store = GcsStore(local_clouds.gcs.gcs_config(unique_name))
    yield store
    store.close()


@pytest.fixture
def pubsub(local_clouds: LocalClouds, unique_name: str) -> Iterator[PubSubQueue]:
    queue = PubSubQueue(local_clouds.pubsub.pubsub_config(unique_name))
    yield queue
    queue.close()


def _receive_one(queue: PubSubQueue) -> list[Message]:
    for _ in range(10):  # an emulator may answer a pull with nothing while a message is on its way
        received = queue.receive(1, wait=2)
        if received:
            return list(received)
    return []


# GCS.


def test_adapters_fit_their_protocols(gcs: GcsStore, pubsub: PubSubQueue) -> None:
    store: ObjectStore = gcs  # mypy checks these assignments; isinstance checks the method names
    queue: MessageQueue = pubsub
    assert isinstance(store, ObjectStore)
    assert isinstance(queue, MessageQueue)


def test_names_default_to_provider_service_and_resource(local_clouds: LocalClouds, unique_name: str) -> None:
    store = GcsStore(local_clouds.gcs.gcs_config(unique_name, ensure=False))
    named = GcsStore(local_clouds.gcs.gcs_config(unique_name, ensure=False, name="orders-replica"))
    queue = PubSubQueue(local_clouds.pubsub.pubsub_config(unique_name, ensure=False))
    assert (store.name, store.provider) == (f"gcp:gcs:{unique_name}", "gcp")
    assert named.name == "orders-replica"
    assert (queue.name, queue.provider) == (f"gcp:pubsub:{unique_name}-sub", "gcp")
    for closable in (store, named, queue):
        closable.close()


def test_64_mib_object_streams_up_and_down_in_bounded_memory(gcs: GcsStore, tmp_path: Path) -> None:
    size, limit = 64 * _MIB, 24 * _MIB
    source, digest, rng = tmp_path / "large", hashlib.sha256(), random.Random(64)
    with source.open("wb") as file:
        for _ in range(size // _MIB):
            chunk = rng.randbytes(_MIB)
            digest.update(chunk)
            file.write(chunk)
    tracemalloc.start()
    try:
        with source.open("rb") as file:
            info = gcs.put("large", file)
        upload_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        downloaded, received = hashlib.sha256(), 0
        with gcs.get("large") as reader:
            for chunk in reader:
                downloaded.update(chunk)
                received += len(chunk)
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert upload_peak < limit, f"uploading 64 MiB took {upload_peak / _MIB:.1f} MiB of Python memory"
    assert download_peak < limit, f"downloading 64 MiB took {download_peak / _MIB:.1f} MiB of Python memory"
    assert received == size == info.size
    assert info.sha256 == gcs.head("large").sha256 == digest.hexdigest(), "the stored sha256 is not the body's"
    assert downloaded.hexdigest() == digest.hexdigest(), "the bytes read back differ from the bytes written"


@pytest.mark.xfail(reason=_RESUMABLE_GAP, strict=True)
def test_conditional_update_on_the_resumable_path_rejects_a_stale_generation(gcs: GcsStore) -> None:
    stale = gcs.put("doc", b"v1").etag
    assert stale is not None
    gcs.put("doc", b"v2")
    with pytest.raises(PreconditionFailed):
        gcs.put("doc", b"x" * _LARGE, if_match=stale)


@pytest.mark.xfail(reason=_RESUMABLE_GAP, strict=True)
def test_create_only_put_on_the_resumable_path_rejects_an_existing_key(gcs: GcsStore) -> None:
    gcs.put("doc", b"v1")
    with pytest.raises(PreconditionFailed):
        gcs.put("doc", b"x" * _LARGE, if_none_match="*")


def test_etag_is_the_generation_and_changes_with_each_write(gcs: GcsStore) -> None:
    first = gcs.put("doc", b"v1").etag
    second = gcs.put("doc", b"v2").etag
    assert first is not None
    assert first.isdigit(), f"a GCS etag is a generation number, not {first!r}"
    assert second != first
    assert gcs.head("doc").etag == second
    assert gcs.put("doc", b"v3", if_match=second).etag not in (first, second)


def test_object_overwritten_mid_read_raises_provider_unavailable_to_retry(gcs: GcsStore) -> None:
    gcs.put("doc", b"a" * 3 * READ_CHUNK)
    with gcs.get("doc") as reader:
        assert reader.read(READ_CHUNK) == b"a" * READ_CHUNK
        gcs.put("doc", b"b" * 3 * READ_CHUNK)
        # The rest is read from the generation `get` saw: never bytes of the new one, and not NotFound,
        # since the key exists; reading again gets the new version.
        with pytest.raises(ProviderUnavailable) as raised:
            reader.read()
    assert raised.value.disposition is Disposition.RETRY, f"not retryable: {raised.value!r}"
    assert (raised.value.operation, raised.value.key) == ("get", "doc")


class _OverwrittenWhenOpened(GcsStore):
    """Runs ``on_open`` once, right after `get` found the object's generation and before its first range."""

    on_open: Callable[[], object] | None = None

    def _reload(self, key: str, operation: str, timeout: float | None) -> Any:
        blob = super()._reload(key, operation, timeout)
        if operation == "get" and self.on_open is not None:
            hook, self.on_open = self.on_open, None
            hook()
        return blob


@pytest.fixture
def racing_gcs(local_clouds: LocalClouds, unique_name: str) -> Iterator[_OverwrittenWhenOpened]:
    store = _OverwrittenWhenOpened(local_clouds.gcs.gcs_config(unique_name))
    yield store
    store.close()


def test_object_overwritten_between_get_and_its_first_range_is_retryable_not_not_found(
    racing_gcs: _OverwrittenWhenOpened,
) -> None:
    racing_gcs.put("doc", b"old")
    racing_gcs.on_open = lambda: racing_gcs.put("doc", b"new")
    with pytest.raises(ProviderUnavailable) as raised:
        racing_gcs.get_bytes("doc")
    assert raised.value.disposition is Disposition.RETRY, f"an existing key read as {raised.value!r}"
    assert racing_gcs.get_bytes("doc") == b"new"


def _storage_over(gcs: GcsStore) -> FailoverStorage:
    return FailoverStorage([gcs], settings=EngineSettings(start_probers=False, retry_base=0.0), replicate=False)


def test_failover_storage_get_bytes_retries_an_object_gcs_replaced_while_opening(
    racing_gcs: _OverwrittenWhenOpened,
) -> None:
    with _storage_over(racing_gcs) as storage:
        storage.put("doc", b"old")
        racing_gcs.on_open = lambda: storage.put("doc", b"new")
        assert storage.get_bytes("doc") == b"new", "the read did not answer with the version now current"


def test_failover_storage_get_streams_the_version_that_replaced_the_one_it_opened(
    racing_gcs: _OverwrittenWhenOpened,
) -> None:
    with _storage_over(racing_gcs) as storage:
        storage.put("doc", b"old")
        newer: list[ObjectInfo] = []
        racing_gcs.on_open = lambda: newer.append(storage.put("doc", b"new"))
        with storage.get("doc") as reader:
            body, info = reader.read(), reader.info
        assert (body, info.version) == (b"new", newer[0].version), (
            "the read did not answer with the version now current"
        )


def test_chunk_size_that_is_no_multiple_of_256_kib_still_uploads(local_clouds: LocalClouds, unique_name: str) -> None:
    store = GcsStore(local_clouds.gcs.gcs_config(unique_name, chunk_size=300 * 1024))
    body = random.Random(3).randbytes(_LARGE)
    store.put("odd-chunks", body)
    assert store.get_bytes("odd-chunks") == body
    store.close()


def test_ensure_accepts_a_bucket_that_already_exists(local_clouds: LocalClouds, unique_name: str) -> None:
    first = GcsStore(local_clouds.gcs.gcs_config(unique_name))
    first.put("k", b"kept")
    second = GcsStore(local_clouds.gcs.gcs_config(unique_name))
    assert second.get_bytes("k") == b"kept"
    first.close()
    second.close()


def test_importing_the_gcp_adapters_imports_no_google_sdk() -> None:
    code = (
        "import sys, failover.adapters.gcp\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('google', 'grpc', 'requests'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "", f"importing failover.adapters.gcp imported {result.stdout.strip()}"


_ANY_TOPIC = {"project": "any-project", "topic": "any", "subscription": "any-sub"}


@pytest.fixture
def no_default_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Application Default Credentials looks at this variable, gcloud's configuration and the GCE metadata server.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


@pytest.mark.usefixtures("no_default_credentials")
def test_missing_credentials_raise_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError) as raised:
        GcsStore(parse_config(GcsConfig, {"bucket": "any-bucket"}))
    assert raised.value.field == "credentials_file"
    with pytest.raises(ConfigError) as raised:
        PubSubQueue(parse_config(PubSubConfig, _ANY_TOPIC))
    assert raised.value.field == "credentials_file"


def test_unreadable_credentials_file_raises_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigError) as raised:
        GcsStore(parse_config(GcsConfig, {"bucket": "any-bucket", "credentials_file": missing}))
    assert raised.value.field == "credentials_file"
    with pytest.raises(ConfigError) as raised:
        PubSubQueue(parse_config(PubSubConfig, {**_ANY_TOPIC, "credentials_file": missing}))
    assert raised.value.field == "credentials_file"


# Pub/Sub.


def test_body_at_max_size_with_the_most_attributes_round_trips(local_clouds: LocalClouds, unique_name: str) -> None:
    # The worst case max_message_size leaves room for: a 255-character topic, 100 attributes (the dedup
    # id among them) with 256-character names and 1024-byte values.
    topic = unique_name + "t" * (255 - len(unique_name))
    queue = PubSubQueue(local_clouds.pubsub.pubsub_config(topic, subscription=f"{unique_name}-sub"))
    attributes = {f"a{index:03d}".ljust(256, "n"): "v" * 1024 for index in range(queue.capabilities.max_attributes - 1)}
    body = random.Random(1).randbytes(MAX_MESSAGE_SIZE)
    queue.send(body, attributes=attributes, dedup_id="d" * 128)
    (message,) = _receive_one(queue)
    assert message.body == body
    assert message.attributes == attributes
    assert message.dedup_id == "d" * 128
    queue.ack(message)
    queue.close()


def test_attributes_named_like_publish_parameters_round_trip(pubsub: PubSubQueue) -> None:
    # The batching publisher takes attributes as keyword arguments named like its own parameters.
    attributes = {"data": "d", "topic": "t", "timeout": "1", "retry": "r", "ordering_key": "o", "plain": "p"}
    pubsub.send(b"one", attributes=attributes)
    results = pubsub.send_batch([OutgoingMessage(b"two", attributes=attributes)])
    assert all(result.ok for result in results), f"the batch failed: {results}"
    received = [*_receive_one(pubsub), *_receive_one(pubsub)]
    assert sorted(message.body for message in received) == [b"one", b"two"]
    for message in received:
        assert message.attributes == attributes
        pubsub.ack(message)


def test_delivery_count_rises_with_each_redelivery(pubsub: PubSubQueue) -> None:
    # ensure=True gives the subscription a dead-letter policy: only then does Pub/Sub count deliveries.
    pubsub.send(b"again")
    (first,) = _receive_one(pubsub)
    pubsub.nack(first)
    (second,) = _receive_one(pubsub)
    assert (first.delivery_count, second.delivery_count) == (1, 2)
    assert second.id == first.id
    pubsub.ack(second)


def test_acking_a_message_twice_succeeds(pubsub: PubSubQueue) -> None:
    pubsub.send(b"once")
    (message,) = _receive_one(pubsub)
    pubsub.ack(message)
    pubsub.ack(message)


def test_ack_deadlines_beyond_pubsubs_600_seconds_are_refused(pubsub: PubSubQueue) -> None:
    pubsub.send(b"x")
    (message,) = _receive_one(pubsub)
    for call in (
        lambda: pubsub.receive(1, visibility=601),
        lambda: pubsub.extend(message, 601),
        lambda: pubsub.nack(message, delay=-1),
    ):
        with pytest.raises(InvalidRequest):
            call()
    pubsub.ack(message)


def test_batch_larger_than_max_batch_is_refused_whole(pubsub: PubSubQueue) -> None:
    batch = [OutgoingMessage(b"x")] * (pubsub.capabilities.max_batch + 1)
    with pytest.raises(InvalidRequest):
        pubsub.send_batch(batch)

"""AwsKmsKey on moto's KMS: data keys wrapped under a KMS key, unwrapped on read."""

from __future__ import annotations

from typing import Any

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.crypto import AwsKmsKey, EncryptedQueue, EncryptedStorage, Keyring
from failover.crypto._format import HEADER_NAME, Header
from failover.errors import IntegrityError
from failover.testing.emulators import LocalClouds
from tests.crypto.support import KEY_A

pytestmark = pytest.mark.emulator


def _kms(local_clouds: LocalClouds) -> Any:
    import boto3

    return boto3.client(
        "kms",
        endpoint_url=local_clouds.aws.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def kms_key(local_clouds: LocalClouds) -> AwsKmsKey:
    client = _kms(local_clouds)
    arn = client.create_key(Description="failover test")["KeyMetadata"]["Arn"]
    return AwsKmsKey("kms-main", arn, client)


def test_object_under_a_kms_key_round_trips_and_stores_only_the_wrapped_data_key(kms_key: AwsKmsKey) -> None:
    inner = MemoryStore()
    store = EncryptedStorage(inner, Keyring([kms_key], active="kms-main"))
    store.put("doc", b"wrapped under KMS", metadata={"k": "v"})
    header = Header.decode(inner.head("doc").metadata[HEADER_NAME], key="doc")
    assert header.key_id == "kms-main"
    assert 0 < len(header.wrapped) <= kms_key.max_wrapped_size, f"wrapped key of {len(header.wrapped)} bytes"
    assert store.get_bytes("doc") == b"wrapped under KMS"
    assert dict(store.head("doc").metadata) == {"k": "v"}


def test_each_object_gets_its_own_data_key(kms_key: AwsKmsKey) -> None:
    first, second = kms_key.new_data_key(), kms_key.new_data_key()
    assert first.plaintext != second.plaintext
    assert kms_key.unwrap(first.wrapped) == first.plaintext


@pytest.mark.xfail(
    strict=True,
    reason="moto 5.2 answers AccessDeniedException where KMS answers IncorrectKeyException for a blob of another key",
)
def test_data_key_wrapped_under_another_kms_key_raises_integrity_error(
    kms_key: AwsKmsKey, local_clouds: LocalClouds
) -> None:
    client = _kms(local_clouds)
    other = AwsKmsKey("kms-main", client.create_key()["KeyMetadata"]["Arn"], client)
    inner = MemoryStore()
    EncryptedStorage(inner, Keyring([kms_key], active="kms-main")).put("doc", b"x")
    with pytest.raises(IntegrityError) as caught:
        EncryptedStorage(inner, Keyring([other], active="kms-main")).get_bytes("doc")
    assert caught.value.check == "key unwrap"


def test_queue_under_a_kms_key_round_trips_and_a_local_key_still_reads_old_messages(kms_key: AwsKmsKey) -> None:
    inner = MemoryQueue()
    EncryptedQueue(inner, Keyring([KEY_A], active="key-a")).send(b"before rotation")
    rotated = EncryptedQueue(inner, Keyring([KEY_A, kms_key], active="kms-main"))
    rotated.send(b"after rotation", attributes={"a": "1"})
    bodies = sorted(message.body for message in rotated.receive(10, wait=0.5))
    assert bodies == [b"after rotation", b"before rotation"]


def test_tampered_wrapped_key_raises_integrity_error(kms_key: AwsKmsKey) -> None:
    wrapped = bytearray(kms_key.new_data_key().wrapped)
    wrapped[-1] ^= 1
    with pytest.raises(IntegrityError) as caught:
        kms_key.unwrap(bytes(wrapped))
    assert (caught.value.key_id, caught.value.check) == ("kms-main", "key unwrap")

"""Bucket lifecycle through the drop-in (create, head, delete, list, location) on every provider of a bucket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

from failover.compat import boto3 as compat
from failover.testing.emulators import LocalClouds
from tests.compat.clouds import Aws, aws_through, failover_config

pytestmark = pytest.mark.emulator


@pytest.fixture
def aws(local_clouds: LocalClouds) -> Iterator[Aws]:
    with aws_through(local_clouds, "proxy") as through:
        yield through


@pytest.fixture
def s3(aws: Aws, local_clouds: LocalClouds) -> Iterator[Any]:
    client = compat.client("s3", failover_config=failover_config(local_clouds), **aws.kwargs)
    yield client
    compat.close(client)


def _on_gcs(local_clouds: LocalClouds, bucket: str) -> bool:
    config = local_clouds.gcs.gcs_config(bucket)
    client = gcs.Client(
        project=config.project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": config.endpoint_url},
    )
    return client.lookup_bucket(bucket) is not None


def test_create_bucket_creates_it_on_s3_and_gcs(s3: Any, aws: Aws, local_clouds: LocalClouds, unique_name: str) -> None:
    s3.create_bucket(Bucket=unique_name)
    boto3.client("s3", **aws.kwargs).head_bucket(Bucket=unique_name)
    assert _on_gcs(local_clouds, f"dr-{unique_name}")


def test_create_bucket_while_aws_is_down_creates_it_on_gcs_and_writes_work(
    s3: Any, aws: Aws, local_clouds: LocalClouds, unique_name: str
) -> None:
    aws.break_()
    s3.create_bucket(Bucket=unique_name)
    assert _on_gcs(local_clouds, f"dr-{unique_name}")
    s3.put_object(Bucket=unique_name, Key="k", Body=b"v")
    assert s3.get_object(Bucket=unique_name, Key="k")["Body"].read() == b"v"


def test_head_bucket_of_a_missing_bucket_is_a_bare_404(s3: Any, unique_name: str) -> None:
    with pytest.raises(ClientError) as error:
        s3.head_bucket(Bucket=unique_name)
    assert error.value.response["Error"]["Code"] == "404"


def test_head_bucket_answers_from_gcs_while_aws_is_down(s3: Any, aws: Aws, unique_name: str) -> None:
    s3.create_bucket(Bucket=unique_name)
    aws.break_()
    assert s3.head_bucket(Bucket=unique_name)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_bucket_created_while_aws_is_down_is_created_there_when_it_returns(
    s3: Any, aws: Aws, unique_name: str
) -> None:
    aws.break_()
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="k", Body=b"during")  # fails over to GCS; S3 is marked down
    aws.heal()
    direct = boto3.client("s3", **aws.kwargs)
    deadline = time.monotonic() + 20  # the prober finds S3 back; the bucket is made; the replicator copies
    while True:
        s3.meta.failover_backends.storage(unique_name).drain(timeout=5)
        try:
            assert direct.get_object(Bucket=unique_name, Key="k")["Body"].read() == b"during"
            break
        except direct.exceptions.ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_get_bucket_location_answers_while_aws_is_down(s3: Any, aws: Aws, unique_name: str) -> None:
    s3.create_bucket(Bucket=unique_name)
    expected = boto3.client("s3", **aws.kwargs).get_bucket_location(Bucket=unique_name)["LocationConstraint"]
    aws.break_()
    assert s3.get_bucket_location(Bucket=unique_name)["LocationConstraint"] == expected


def _until(check: Any, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def test_delete_bucket_deletes_it_on_s3_and_gcs(s3: Any, aws: Aws, local_clouds: LocalClouds, unique_name: str) -> None:
    s3.create_bucket(Bucket=unique_name)
    s3.delete_bucket(Bucket=unique_name)
    with pytest.raises(ClientError):
        boto3.client("s3", **aws.kwargs).head_bucket(Bucket=unique_name)
    assert not _on_gcs(local_clouds, f"dr-{unique_name}")


def test_delete_bucket_of_a_non_empty_bucket_is_bucket_not_empty_while_aws_is_down(
    s3: Any, aws: Aws, unique_name: str
) -> None:
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="k", Body=b"v")
    aws.break_()
    with pytest.raises(s3.exceptions.ClientError) as error:
        s3.delete_bucket(Bucket=unique_name)
    assert error.value.response["Error"]["Code"] == "BucketNotEmpty"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_a_bucket_deleted_while_aws_is_down_is_deleted_there_when_it_returns(
    s3: Any, aws: Aws, local_clouds: LocalClouds, unique_name: str
) -> None:
    s3.create_bucket(Bucket=unique_name)
    aws.break_()
    s3.delete_bucket(Bucket=unique_name)
    assert not _on_gcs(local_clouds, f"dr-{unique_name}")
    aws.heal()
    direct = boto3.client("s3", **aws.kwargs)
    assert _until(lambda: unique_name not in [b["Name"] for b in direct.list_buckets()["Buckets"]])


def test_list_buckets_while_aws_is_down_lists_the_mapped_buckets(s3: Any, aws: Aws, unique_name: str) -> None:
    s3.create_bucket(Bucket=unique_name)
    aws.break_()
    listed = s3.list_buckets()["Buckets"]
    assert unique_name in [bucket["Name"] for bucket in listed]
    assert f"dr-{unique_name}" not in [bucket["Name"] for bucket in listed]

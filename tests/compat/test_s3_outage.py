"""The drop-in on the local clouds: the caller's S3 (moto) first, GCS behind it, AWS broken two ways."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from failover.compat import boto3 as compat
from failover.testing.emulators import LocalClouds
from tests.compat.clouds import Aws, aws_through, failover_config

pytestmark = pytest.mark.emulator


@pytest.fixture(params=["proxy", "dns"])
def aws(request: pytest.FixtureRequest, local_clouds: LocalClouds) -> Iterator[Aws]:
    with aws_through(local_clouds, request.param) as through:
        yield through


@pytest.fixture
def s3(aws: Aws, local_clouds: LocalClouds, unique_name: str) -> Iterator[Any]:
    boto3.client("s3", **aws.kwargs).create_bucket(Bucket=unique_name)
    client = compat.client("s3", failover_config=failover_config(local_clouds), **aws.kwargs)
    yield client
    compat.close(client)


def _drain(s3: Any, bucket: str) -> None:
    s3.meta.failover_backends.storage(bucket).drain(timeout=10)


def test_objects_written_before_the_outage_read_back_with_the_same_etag(s3: Any, aws: Aws, unique_name: str) -> None:
    etag = s3.put_object(Bucket=unique_name, Key="a", Body=b"before")["ETag"]
    _drain(s3, unique_name)
    aws.break_()
    got = s3.get_object(Bucket=unique_name, Key="a")
    assert (got["Body"].read(), got["ETag"]) == (b"before", etag)


def test_puts_lists_and_conditions_keep_working_while_aws_is_down(s3: Any, aws: Aws, unique_name: str) -> None:
    s3.put_object(Bucket=unique_name, Key="a", Body=b"before")
    _drain(s3, unique_name)
    aws.break_()
    etag = s3.put_object(Bucket=unique_name, Key="b", Body=b"during", Metadata={"k": "v"})["ETag"]
    assert s3.head_object(Bucket=unique_name, Key="b", IfMatch=etag)["Metadata"] == {"k": "v"}
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket=unique_name)["Contents"]] == ["a", "b"]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=unique_name, Key="missing")


def test_a_put_during_the_outage_reaches_s3_after_it(s3: Any, aws: Aws, unique_name: str) -> None:
    aws.break_()
    etag = s3.put_object(Bucket=unique_name, Key="late", Body=b"during")["ETag"]
    aws.heal()
    direct = boto3.client("s3", **aws.kwargs)
    deadline = time.monotonic() + 20  # the prober finds S3 back, then the replicator copies
    while True:
        _drain(s3, unique_name)
        try:
            stored = direct.head_object(Bucket=unique_name, Key="late")
            break
        except direct.exceptions.ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert stored["Metadata"]["failover_etag"] == etag


def test_an_unmapped_call_goes_to_s3_unchanged(s3: Any, unique_name: str) -> None:
    assert s3.get_bucket_versioning(Bucket=unique_name)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_an_unmapped_bucket_goes_to_s3_unchanged(aws: Aws, local_clouds: LocalClouds, unique_name: str) -> None:
    config = failover_config(local_clouds, buckets=[{"match": "app-*", "stores": {"gcp": "dr-{bucket}"}}])
    client = compat.client("s3", failover_config=config, **aws.kwargs)
    try:
        client.create_bucket(Bucket=unique_name)
        client.put_object(Bucket=unique_name, Key="k", Body=b"plain")
        stored = boto3.client("s3", **aws.kwargs).head_object(Bucket=unique_name, Key="k")
        assert "failover_etag" not in stored["Metadata"]  # not written through failover
        assert client.meta.failover_backends.storage(unique_name) is None
    finally:
        compat.close(client)

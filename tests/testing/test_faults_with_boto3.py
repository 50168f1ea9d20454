"""A real SDK meets the faults: boto3 through a FaultProxy (and through a broken name) to moto."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ResponseStreamingError

from failover.adapters._network import network_reason
from failover.errors import Reason
from failover.testing.emulators import MotoServer
from failover.testing.faults import DnsFaults, Fault, FaultProxy

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

# One attempt per call, so each fault meets exactly one request.
SDK_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)


def clients(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=SDK_CONFIG,
    )


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with MotoServer(log_dir=tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(moto.endpoint) as started:
        yield started


@pytest.fixture
def s3(proxy: FaultProxy) -> Iterator[S3Client]:
    client: S3Client = clients("s3", proxy.endpoint)
    yield client
    client.close()


@pytest.fixture
def bucket(s3: S3Client) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def test_boto3_gets_503_from_the_proxy_then_succeeds_after_clear(s3: S3Client, bucket: str, proxy: FaultProxy) -> None:
    forwarded = proxy.stats.requests_forwarded
    proxy.set(Fault.http_status(503))
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v" * 1000)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert proxy.stats.requests_forwarded == forwarded, "the failed provider was reached"
    proxy.clear()
    s3.put_object(Bucket=bucket, Key="k", Body=b"v" * 1000)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v" * 1000


def test_boto3_read_is_reset_mid_body(s3: S3Client, bucket: str, proxy: FaultProxy) -> None:
    s3.put_object(Bucket=bucket, Key="big", Body=b"b" * 200_000)
    proxy.set(Fault.reset_after(5000))
    answer = s3.get_object(Bucket=bucket, Key="big")
    assert answer["ContentLength"] == 200_000
    with pytest.raises(ResponseStreamingError) as raised:
        answer["Body"].read()
    assert "Connection reset by peer" in str(raised.value)


def test_boto3_is_refused_then_recovers_on_the_same_endpoint(s3: S3Client, bucket: str, proxy: FaultProxy) -> None:
    proxy.set(Fault.refuse())  # also cuts the connection boto3 keeps in its pool
    with pytest.raises(EndpointConnectionError):
        s3.head_bucket(Bucket=bucket)
    proxy.clear()
    s3.head_bucket(Bucket=bucket)


def test_boto3_fails_while_its_endpoint_name_does_not_resolve(moto: MotoServer) -> None:
    # SQS: moto's S3 would read a dotted host name as a virtual-hosted bucket name.
    with DnsFaults() as dns:
        dns.alias("aws.failover.test", "127.0.0.1")
        sqs = clients("sqs", f"http://aws.failover.test:{moto.ports[0]}")
        try:
            url = sqs.create_queue(QueueName=f"t-{uuid.uuid4().hex[:10]}")["QueueUrl"]
            dns.fail("aws.failover.test")
            with pytest.raises(EndpointConnectionError) as raised:
                sqs.get_queue_attributes(QueueUrl=url)
            assert network_reason(raised.value) is Reason.DNS
            assert dns.refused == {"aws.failover.test": 1}
            dns.heal("aws.failover.test")
            assert "QueueArn" in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        finally:
            sqs.close()

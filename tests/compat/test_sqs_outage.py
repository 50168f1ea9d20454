"""SQS through the drop-in with AWS down: typed attributes and MD5s survive Pub/Sub and Azure Queue, and
the approximate counts are those of the providers that can count."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from failover.compat import boto3 as compat
from failover.compat._sqs.attributes import md5_of_attributes
from failover.compat._sqs.counts import COUNTED
from failover.config import FailoverConfig
from failover.testing.emulators import LocalClouds
from tests.compat.clouds import Aws, aws_through

pytestmark = pytest.mark.emulator

TYPED: dict[str, dict[str, Any]] = {
    "text": {"DataType": "String", "StringValue": "héllo"},
    "price": {"DataType": "Number.float", "StringValue": "1.25"},
    "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
}


def _config(clouds: LocalClouds, backup: str) -> FailoverConfig:
    queue = (
        clouds.pubsub.pubsub_config("placeholder")
        if backup == "pubsub"
        else clouds.azure.azure_queue_config("placeholder")
    )
    return FailoverConfig.model_validate(
        {
            "engine": {"deadline": 5, "attempt_timeout": 2, "probe": {"backoff_base": 0.2, "backoff_cap": 0.5}},
            "queues": {"backup": queue.model_dump()},
            "boto3": {"queues": [{"match": "*", "queues": {"backup": "dr-{queue}"}}]},
        }
    )


@pytest.fixture(params=["pubsub", "azure_queue"])
def sqs(request: pytest.FixtureRequest, local_clouds: LocalClouds) -> Iterator[tuple[Any, Aws]]:
    with aws_through(local_clouds, "proxy") as aws:
        client = compat.client("sqs", failover_config=_config(local_clouds, request.param), **aws.kwargs)
        yield client, aws
        compat.close(client)


def test_typed_attributes_round_trip_while_aws_is_down(sqs: tuple[Any, Aws], unique_name: str) -> None:
    client, aws = sqs
    boto3.client("sqs", **aws.kwargs).create_queue(QueueName=unique_name)
    url = client.create_queue(QueueName=unique_name)["QueueUrl"]
    aws.break_()
    sent = client.send_message(QueueUrl=url, MessageBody="typed", MessageAttributes=TYPED)
    got: list[dict[str, Any]] = []
    for _ in range(10):
        got += client.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if got:
            break
    (message,) = got
    assert message["MessageAttributes"] == TYPED
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"] == md5_of_attributes(TYPED)
    client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _counts(client: Any, url: str) -> dict[str, str]:
    answer = client.get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTED))
    return dict(answer["Attributes"])


def test_approximate_counts_while_aws_is_down_are_the_backups(
    sqs: tuple[Any, Aws], unique_name: str, request: pytest.FixtureRequest
) -> None:
    client, aws = sqs
    url = client.create_queue(QueueName=unique_name)["QueueUrl"]
    aws.break_()
    for body in ("a", "b"):
        client.send_message(QueueUrl=url, MessageBody=body)
    # Azure Queue counts; Pub/Sub cannot (failover.compat._sqs.counts), and SQS does not answer.
    expected = "2" if request.node.callspec.params["sqs"] == "azure_queue" else "0"
    assert _counts(client, url)["ApproximateNumberOfMessages"] == expected


def test_approximate_counts_are_summed_over_sqs_and_azure_queue(local_clouds: LocalClouds, unique_name: str) -> None:
    with aws_through(local_clouds, "proxy") as aws:
        client = compat.client("sqs", failover_config=_config(local_clouds, "azure_queue"), **aws.kwargs)
        try:
            url = client.create_queue(QueueName=unique_name)["QueueUrl"]
            client.send_message(QueueUrl=url, MessageBody="on sqs")
            aws.break_()
            for body in ("on azure 1", "on azure 2"):
                client.send_message(QueueUrl=url, MessageBody=body)
            aws.heal()
            assert _counts(client, url) == {
                "ApproximateNumberOfMessages": "3",
                "ApproximateNumberOfMessagesNotVisible": "0",
                "ApproximateNumberOfMessagesDelayed": "0",
            }
        finally:
            compat.close(client)


def _sqs_names(aws: Aws, prefix: str) -> list[str]:
    urls = boto3.client("sqs", **aws.kwargs).list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return [url.rsplit("/", 1)[-1] for url in urls]


def _until(check: Any, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def test_a_queue_deleted_while_aws_is_down_is_deleted_there_when_it_returns(
    sqs: tuple[Any, Aws], unique_name: str
) -> None:
    client, aws = sqs
    url = client.create_queue(QueueName=unique_name)["QueueUrl"]
    aws.break_()
    client.delete_queue(QueueUrl=url)
    assert unique_name not in [u.rsplit("/", 1)[-1] for u in client.list_queues().get("QueueUrls", [])]
    aws.heal()
    assert _until(lambda: unique_name not in _sqs_names(aws, unique_name))


def test_a_queue_created_while_aws_is_down_is_created_there_when_it_returns(
    sqs: tuple[Any, Aws], unique_name: str
) -> None:
    client, aws = sqs
    aws.break_()
    client.create_queue(QueueName=unique_name)
    assert unique_name in [u.rsplit("/", 1)[-1] for u in client.list_queues().get("QueueUrls", [])]
    aws.heal()
    assert _until(lambda: unique_name in _sqs_names(aws, unique_name))

"""SQS through the drop-in with AWS down: typed attributes and MD5s survive Pub/Sub and Azure Queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from failover.compat import boto3 as compat
from failover.compat._sqs.attributes import md5_of_attributes
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

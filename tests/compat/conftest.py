"""Drop-in clients over memory stores: S3's answers with no network (the endpoint is never called)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.compat import boto3 as compat
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage

# An endpoint nothing listens on: a call that is not answered by the drop-in fails loudly.
NOWHERE: dict[str, Any] = {
    "region_name": "us-east-1",
    "endpoint_url": "http://127.0.0.1:9",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}
BUCKET = "app-bucket"


@pytest.fixture
def memory_storage() -> Iterator[FailoverStorage]:
    with FailoverStorage([MemoryStore("primary"), MemoryStore("secondary")], replicate=False) as storage:
        yield storage


@pytest.fixture
def s3(memory_storage: FailoverStorage) -> Iterator[Any]:
    """A drop-in S3 client whose bucket ``app-bucket`` lives on two memory stores."""
    client = compat.client("s3", storage={BUCKET: memory_storage}, **NOWHERE)
    yield client
    client.close()


QUEUE = "app-queue"


@pytest.fixture
def memory_queue() -> Iterator[FailoverQueue]:
    with FailoverQueue([MemoryQueue("primary"), MemoryQueue("secondary")], drain_interval=None) as queue:
        yield queue


@pytest.fixture
def sqs(memory_queue: FailoverQueue) -> Iterator[Any]:
    """A drop-in SQS client whose queue ``app-queue`` lives on two memory queues."""
    client = compat.client("sqs", queues={QUEUE: memory_queue}, **NOWHERE)
    yield client
    client.close()


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=QUEUE)["QueueUrl"])

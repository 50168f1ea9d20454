"""Drop-in clients over memory stores: S3's answers with no network (the endpoint is never called)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from failover.adapters.memory import MemoryStore
from failover.compat import boto3 as compat
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

"""The adapters under test, on the local clouds (each closed after its test), and local HTTP servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from failover.adapters.aws import S3Store, SqsQueue
from failover.adapters.azure import AzureBlobStore, AzureQueue
from failover.adapters.gcp import GcsStore, PubSubQueue
from failover.testing.emulators import Azurite, LocalClouds
from tests.adapters.support import ServeHttp, serving


@pytest.fixture
def serve_http() -> Iterator[ServeHttp]:
    """Start a local HTTP server for a handler class; returns its endpoint. Stopped after the test."""
    with contextlib.ExitStack() as servers:
        yield lambda handler: f"http://127.0.0.1:{servers.enter_context(serving(handler))}"


@pytest.fixture
def s3(local_clouds: LocalClouds, unique_name: str) -> Iterator[S3Store]:
    store = S3Store(local_clouds.aws.s3_config(unique_name))
    yield store
    store.close()


@pytest.fixture
def sqs(local_clouds: LocalClouds, unique_name: str) -> Iterator[SqsQueue]:
    queue = SqsQueue(local_clouds.aws.sqs_config(unique_name))
    yield queue
    queue.close()


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


@pytest.fixture
def azurite(local_clouds: LocalClouds) -> Azurite:
    return local_clouds.azure


@pytest.fixture
def store(azurite: Azurite, unique_name: str) -> Iterator[AzureBlobStore]:
    """An Azure blob store (the Azure tests' ``store``; AWS's and GCP's are ``s3`` and ``gcs``)."""
    store = AzureBlobStore(azurite.azure_blob_config(unique_name))
    yield store
    store.close()


@pytest.fixture
def queue(azurite: Azurite, unique_name: str) -> Iterator[AzureQueue]:
    """An Azure queue (the Azure tests' ``queue``; AWS's and GCP's are ``sqs`` and ``pubsub``)."""
    queue = AzureQueue(azurite.azure_queue_config(unique_name))
    yield queue
    queue.close()

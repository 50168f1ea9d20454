"""Each queue adapter's `probe`: the cheap call FailoverQueue's health prober makes to a DOWN queue."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from failover import NotFound, ProviderUnavailable, PubSubQueue, SqsQueue
from failover.adapters.azure import AzureQueue
from failover.queue import SupportsProbe
from failover.testing.emulators import LocalClouds
from tests.support import closed_port

Probed = SqsQueue | PubSubQueue | AzureQueue
Build = Callable[[LocalClouds, str, dict[str, object]], Probed]


def _sqs(clouds: LocalClouds, name: str, overrides: dict[str, object]) -> Probed:
    return SqsQueue(clouds.aws.sqs_config(name, **overrides))


def _pubsub(clouds: LocalClouds, name: str, overrides: dict[str, object]) -> Probed:
    return PubSubQueue(clouds.pubsub.pubsub_config(name, **overrides))


def _azure(clouds: LocalClouds, name: str, overrides: dict[str, object]) -> Probed:
    return AzureQueue(clouds.azure.azure_queue_config(name, **overrides))


BUILDERS = pytest.mark.parametrize("build", [_sqs, _pubsub, _azure], ids=["sqs", "pubsub", "azure"])


@BUILDERS
def test_probe_of_a_live_queue_answers(build: Build, local_clouds: LocalClouds, unique_name: str) -> None:
    queue = build(local_clouds, unique_name, {})
    assert isinstance(queue, SupportsProbe), "FailoverQueue would fall back to a receive"
    try:
        assert queue.probe(timeout=5) is None
    finally:
        queue.close()


@BUILDERS
def test_probe_of_a_missing_queue_is_not_found(build: Build, local_clouds: LocalClouds, unique_name: str) -> None:
    queue = build(local_clouds, unique_name, {"ensure": False})
    try:
        with pytest.raises(NotFound):
            queue.probe(timeout=5)
    finally:
        queue.close()


def test_probe_of_a_refused_sqs_endpoint_is_provider_unavailable(local_clouds: LocalClouds, unique_name: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    queue = SqsQueue(local_clouds.aws.sqs_config(unique_name, ensure=False, endpoint_url=dead, connect_timeout=0.5))
    try:
        with pytest.raises(ProviderUnavailable):
            queue.probe(timeout=1)
    finally:
        queue.close()

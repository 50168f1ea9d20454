"""The message-queue contract, bound to every queue adapter.

Each binding imports its adapter inside the fixture, so an adapter that cannot be built fails its
own binding's tests and no other's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.adapters.memory import MemoryQueue
from failover.interfaces import MessageQueue, QueueCapabilities
from failover.testing.contract import MessageQueueContract, QueueArgumentsContract
from failover.testing.emulators import LocalClouds


class TestMemoryQueue(MessageQueueContract):
    @pytest.fixture
    def queue(self) -> Iterator[MessageQueue]:
        queue = MemoryQueue()
        yield queue
        queue.close()

    @pytest.fixture
    def fifo_queue(self) -> Iterator[MessageQueue]:
        capabilities = QueueCapabilities(max_message_size=1024, max_attributes=10, max_delay=900, fifo=True)
        queue = MemoryQueue("memory-fifo", capabilities=capabilities)
        yield queue
        queue.close()


@pytest.mark.emulator
class TestSqsQueue(MessageQueueContract):
    @pytest.fixture
    def queue(self, local_clouds: LocalClouds, unique_name: str) -> Iterator[MessageQueue]:
        from failover.adapters.aws.sqs import SqsQueue

        queue = SqsQueue(local_clouds.aws.sqs_config(unique_name))
        yield queue
        queue.close()


@pytest.mark.emulator
class TestPubSubQueue(MessageQueueContract):
    @pytest.fixture
    def queue(self, local_clouds: LocalClouds, unique_name: str) -> Iterator[MessageQueue]:
        from failover.adapters.gcp.pubsub import PubSubQueue

        queue = PubSubQueue(local_clouds.pubsub.pubsub_config(unique_name))
        yield queue
        queue.close()


@pytest.mark.emulator
class TestAzureQueue(MessageQueueContract):
    @pytest.fixture
    def queue(self, local_clouds: LocalClouds, unique_name: str) -> Iterator[MessageQueue]:
        from failover.adapters.azure.queue import AzureQueue

        queue = AzureQueue(local_clouds.azure.azure_queue_config(unique_name))
        yield queue
        queue.close()


@pytest.mark.emulator
class TestSqsFifoQueue(MessageQueueContract):
    """The whole contract on an SQS FIFO queue: one message group, native dedup, no per-message delay."""

    @pytest.fixture
    def queue(self, local_clouds: LocalClouds, unique_name: str) -> Iterator[MessageQueue]:
        from failover.adapters.aws.sqs import SqsQueue

        queue = SqsQueue(local_clouds.aws.sqs_config(unique_name + ".fifo", fifo=True))
        yield queue
        queue.close()


class TestFailoverQueueArguments(QueueArgumentsContract):
    """FailoverQueue refuses every bad argument itself, as its adapters do."""

    @pytest.fixture
    def queue(self) -> Iterator[MessageQueue]:
        from failover.engine import EngineSettings
        from failover.queue import FailoverQueue

        queue = FailoverQueue(
            [MemoryQueue("first"), MemoryQueue("second")], settings=EngineSettings(start_probers=False)
        )
        yield queue
        queue.close()

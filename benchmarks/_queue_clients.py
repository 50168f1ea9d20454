"""The four contenders of the queue benchmark, behind one small interface: send a body, receive all.

1. ``boto3 defaults``: one boto3 SQS client as boto3 makes it (standard retries: 3 attempts; connect
   and read timeouts of 60 s).
2. ``boto3 + tenacity + Azure fallback``: the same client, each send wrapped in tenacity
   (``stop_after_attempt(3)``, ``wait_exponential(max=10)``), and when the retries are spent the same
   body sent to Azure Queue Storage with azure-storage-queue's defaults; the consumer reads both queues.
3. ``FailoverQueue``: ``FailoverQueue([SqsQueue, AzureQueue])`` with default settings, no dedup window.
4. ``FailoverQueue + dedup``: the same with a SQLite dedup window (``dedup=path``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from azure.storage.queue import QueueClient
from tenacity import Retrying, stop_after_attempt, wait_exponential

from failover.adapters.aws import SqsQueue
from failover.adapters.azure import AzureQueue
from failover.config import AzureQueueConfig, SqsConfig
from failover.queue import FailoverQueue

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

__all__ = ["BOTO3", "CONTENDERS", "DEDUP", "FAILOVER", "TENACITY", "QueueClientKit", "build_queue_client"]

BOTO3 = "boto3 defaults"
TENACITY = "boto3 + tenacity + Azure fallback"
FAILOVER = "FailoverQueue"
DEDUP = "FailoverQueue + dedup"
CONTENDERS = (BOTO3, TENACITY, FAILOVER, DEDUP)


@dataclass(frozen=True)
class QueueClientKit:
    """``send(body)``; ``receive()`` returns the bodies of one poll of every queue (acked); ``close``.

    ``settled()``: whether every queue is being read again (a FailoverQueue reads a queue whose circuit
    is open only once a probe has closed it); the consumer keeps polling until it is.
    """

    send: Callable[[bytes], object]
    receive: Callable[[], list[bytes]]
    close: Callable[[], None]
    failover: FailoverQueue | None = None
    settled: Callable[[], bool] = lambda: True


def _sqs(config: SqsConfig) -> tuple[SQSClient, str]:
    assert config.access_key_id is not None
    assert config.secret_access_key is not None
    client = boto3.client(
        "sqs",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id.get_secret_value(),
        aws_secret_access_key=config.secret_access_key.get_secret_value(),
    )
    url = client.create_queue(QueueName=config.queue)["QueueUrl"]
    return client, url


def build_queue_client(contender: str, sqs: SqsConfig, azure: AzureQueueConfig, dedup: Path) -> QueueClientKit:
    if contender in (FAILOVER, DEDUP):
        queue = FailoverQueue(
            [SqsQueue(sqs.model_copy(update={"ensure": True})), AzureQueue(azure.model_copy(update={"ensure": True}))],
            dedup=dedup if contender == DEDUP else None,
        )

        def receive_failover() -> list[bytes]:
            messages = queue.receive(10, wait=0.0)
            for message in messages:
                queue.ack(message)
            return [message.body for message in messages]

        def settled() -> bool:
            return all(state.value == "healthy" for state in queue.health.states().values())

        return QueueClientKit(lambda body: queue.send(body), receive_failover, queue.close, queue, settled)
    client, url = _sqs(sqs)

    def sqs_send(body: bytes) -> object:
        return client.send_message(QueueUrl=url, MessageBody=body.decode())

    def sqs_receive() -> list[bytes]:
        answer = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        for message in messages:
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [message["Body"].encode() for message in messages]

    if contender == BOTO3:
        return QueueClientKit(sqs_send, sqs_receive, client.close)
    if contender != TENACITY:
        raise ValueError(f"unknown contender {contender!r}; choose among {CONTENDERS}")
    assert azure.connection_string is not None
    fallback = QueueClient.from_connection_string(azure.connection_string.get_secret_value(), azure.queue)
    fallback.create_queue()

    def send(body: bytes) -> object:
        try:
            retrying = Retrying(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=1, max=10), reraise=True)
            return retrying(sqs_send, body)
        except Exception:
            return fallback.send_message(body.decode())

    def receive() -> list[bytes]:
        bodies = sqs_receive()
        for message in fallback.receive_messages(messages_per_page=32, max_messages=32):
            bodies.append(str(message.content).encode())
            fallback.delete_message(message)
        return bodies

    def close() -> None:
        client.close()
        fallback.close()

    return QueueClientKit(send, receive, close)

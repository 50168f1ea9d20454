"""The SQS half of the differential corpus: each case on a queue of its own (``name`` is its prefix)."""

from __future__ import annotations

import time
from typing import Any

from failover.compat._sqs.counts import COUNTED
from tests.compat.differential import Case, Recorder

TYPED = {
    "text": {"DataType": "String", "StringValue": "héllo"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "price": {"DataType": "Number.float", "StringValue": "1.25"},
    "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
    "app.trace": {"DataType": "String.custom", "StringValue": "abc"},
}


def _queue(sqs: Any, record: Recorder, name: str) -> str:
    return str(record(sqs.create_queue, QueueName=name)["QueueUrl"])


def _receive_all(sqs: Any, url: str, count: int, **options: Any) -> list[dict[str, Any]]:
    """Receive until ``count`` messages came (a provider may hand them out a few at a time)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while len(got) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **options)
        got += answer.get("Messages", [])
    return got


def _send_receive_delete(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    record(sqs.send_message, QueueUrl=url, MessageBody="hello")
    (message,) = _receive_all(sqs, url, 1, AttributeNames=["ApproximateReceiveCount"])
    record.note({key: message[key] for key in ("Body", "MD5OfBody", "Attributes")})
    record(sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    record(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=0)


def _typed(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    record(sqs.send_message, QueueUrl=url, MessageBody="typed", MessageAttributes=TYPED)
    (message,) = _receive_all(sqs, url, 1, MessageAttributeNames=["All"])
    record.note({key: message.get(key) for key in ("Body", "MessageAttributes", "MD5OfMessageAttributes")})
    record(sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _selected(names: list[str], label: str) -> Case:
    def run(sqs: Any, record: Recorder, name: str) -> None:
        url = _queue(sqs, record, name)
        record(sqs.send_message, QueueUrl=url, MessageBody="selected", MessageAttributes=TYPED)
        (message,) = _receive_all(sqs, url, 1, MessageAttributeNames=names)
        record.note({key: message.get(key) for key in ("MessageAttributes", "MD5OfMessageAttributes")})

    return Case(f"attributes-{label}", run)


def _md5s(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    for body in ("a", "ü", "x" * 1000, "line\nbreak", '{"json": true}'):
        record(sqs.send_message, QueueUrl=url, MessageBody=body)
    for attributes in ({"n": {"DataType": "Number", "StringValue": "-1.5e3"}}, {"b": TYPED["raw"]}, TYPED):
        record(sqs.send_message, QueueUrl=url, MessageBody="attrs", MessageAttributes=attributes)


def _batches(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    entries = [{"Id": f"e{i}", "MessageBody": f"body {i}"} for i in range(10)]
    answer = record(sqs.send_message_batch, QueueUrl=url, Entries=entries)
    record.note(sorted(entry["Id"] for entry in answer["Successful"]))
    got = _receive_all(sqs, url, 10)
    record.note(sorted(message["Body"] for message in got))
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    record.note((sorted(entry["Id"] for entry in deleted["Successful"]), deleted.get("Failed", [])))


def _batch_errors(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    record(sqs.send_message_batch, QueueUrl=url, Entries=[])
    record(
        sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}]
    )
    record(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
    record(sqs.delete_message_batch, QueueUrl=url, Entries=[])
    # Not here: an empty ChangeMessageVisibilityBatch (moto accepts it; SQS and the drop-in answer
    # EmptyBatchRequest, which the unit tests pin).


def _receive_errors(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    record(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=0)
    record(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
    record(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21)
    record(sqs.send_message, QueueUrl=url, MessageBody="x" * (1024 * 1024 + 1))
    record(sqs.send_message, QueueUrl=url, MessageBody="d", DelaySeconds=901)


def _visibility(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    record(sqs.send_message, QueueUrl=url, MessageBody="v")
    (message,) = _receive_all(sqs, url, 1, VisibilityTimeout=30)
    record(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60)
    record(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=0)
    record(sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _queue_calls(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    record(sqs.get_queue_url, QueueName=name)
    record(sqs.create_queue, QueueName=name)
    record(sqs.set_queue_attributes, QueueUrl=url, Attributes={"VisibilityTimeout": "45"})
    record(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["VisibilityTimeout", "DelaySeconds"])
    record(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["NoSuchAttribute"])
    # Not here: an out-of-range VisibilityTimeout (moto accepts it; SQS answers InvalidAttributeValue).


def _counts(sqs: Any, record: Recorder, name: str) -> None:
    url = _queue(sqs, record, name)
    for body in ("a", "b", "c"):
        record(sqs.send_message, QueueUrl=url, MessageBody=body)
    held: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while not held and time.monotonic() < deadline:
        held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60, WaitTimeSeconds=1).get(
            "Messages", []
        )
    record.note(len(held))
    record(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=list(COUNTED))
    record(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])


def _listed(sqs: Any, prefix: str) -> list[str]:
    return [url.rsplit("/", 1)[-1] for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])]


def _lifecycle(sqs: Any, record: Recorder, name: str) -> None:
    other = f"{name}-gone"
    url = _queue(sqs, record, other)
    record.note(_listed(sqs, other))
    record(sqs.delete_queue, QueueUrl=url)
    record.note(_listed(sqs, other))
    # Not here: a call on the deleted queue (the Pub/Sub emulator answers for a deleted subscription).


def _missing(sqs: Any, record: Recorder, name: str) -> None:
    record(sqs.get_queue_url, QueueName=name + "-missing")
    record(sqs.send_message, QueueUrl=f"{sqs.meta.endpoint_url}/123456789012/{name}-missing", MessageBody="x")


SQS_CASES: list[Case] = [
    Case("send-receive-delete", _send_receive_delete),
    Case("typed-attributes", _typed),
    _selected(["All"], "all"),
    _selected([".*"], "dot-star"),
    _selected(["app.*"], "prefix"),
    _selected(["text", "raw"], "names"),
    _selected(["absent"], "absent"),
    Case("md5s", _md5s),
    Case("batches", _batches),
    Case("batch-errors", _batch_errors),
    Case("receive-errors", _receive_errors),
    Case("visibility", _visibility),
    Case("queue-calls", _queue_calls),
    Case("approximate-counts", _counts),
    Case("queue-lifecycle", _lifecycle),
    Case("missing-queue", _missing),
]

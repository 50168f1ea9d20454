"""SQS calls answered through FailoverQueue with SQS's shapes, MD5s and errors (memory queues)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failover.adapters.memory import MemoryQueue
from failover.compat import boto3 as compat
from failover.compat._sqs.attributes import md5_of_attributes
from failover.queue import FailoverQueue
from failover.testing.faulty_queue import FaultyQueue
from tests.compat.conftest import NOWHERE

ATTRIBUTES: dict[str, dict[str, Any]] = {
    "name": {"DataType": "String", "StringValue": "x"},
    "price": {"DataType": "Number.float", "StringValue": "1.5"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
}


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"].get("QueryErrorCode") or error.value.response["Error"]["Code"])


def test_send_answers_the_md5s_sqs_computes(sqs: Any, queue_url: str) -> None:
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody="hello", MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ATTRIBUTES)


def test_md5_of_attributes_matches_sqs_for_a_known_value() -> None:
    # What moto answers for one String attribute {"a": "b"} (measured against moto 5.2.5).
    assert md5_of_attributes({"a": {"DataType": "String", "StringValue": "b"}}) == "bef8bf215374a0a228d67533b1a488be"


def test_typed_attributes_round_trip(sqs: Any, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello", MessageAttributes=ATTRIBUTES)
    got = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"][0]
    assert (got["Body"], got["MessageAttributes"]) == ("hello", ATTRIBUTES)


def test_attribute_names_select_by_prefix(sqs: Any, queue_url: str) -> None:
    attributes = {
        "app.a": {"DataType": "String", "StringValue": "1"},
        "other": {"DataType": "String", "StringValue": "2"},
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody="m", MessageAttributes=attributes)
    got = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["app.*"])["Messages"][0]
    assert list(got["MessageAttributes"]) == ["app.a"]


def test_receive_count_and_sent_timestamp_are_system_attributes(sqs: Any, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="m")
    got = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"], VisibilityTimeout=0)["Messages"][0]
    assert got["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(got["Attributes"]["SentTimestamp"]) > 0


def test_delete_removes_the_message(sqs: Any, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="m")
    got = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"][0]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=got["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url)


def test_change_visibility_to_zero_hands_the_message_back(sqs: Any, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="m")
    got = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=60)["Messages"][0]
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=got["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_send_batch_and_delete_batch(sqs: Any, queue_url: str) -> None:
    sent = sqs.send_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)]
    )
    assert sorted(entry["Id"] for entry in sent["Successful"]) == ["0", "1", "2"]
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(message["Body"] for message in got) == ["m0", "m1", "m2"]
    deleted = sqs.delete_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    assert len(deleted["Successful"]) == 3


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda sqs, url: sqs.send_message_batch(QueueUrl=url, Entries=[]), "EmptyBatchRequest"),
        (
            lambda sqs, url: sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]
            ),
            "BatchEntryIdsNotDistinct",
        ),
        (
            lambda sqs, url: sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)]
            ),
            "TooManyEntriesInBatchRequest",
        ),
        (lambda sqs, url: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11), "InvalidParameterValue"),
        (lambda sqs, url: sqs.send_message(QueueUrl=url, MessageBody="x" * (1024 * 1024 + 1)), "InvalidParameterValue"),
        (lambda sqs, url: sqs.delete_message(QueueUrl=url, ReceiptHandle="nope"), "ReceiptHandleIsInvalid"),
        (
            lambda sqs, url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"]),
            "InvalidAttributeName",
        ),
    ],
    ids=["empty-batch", "ids-not-distinct", "too-many", "max-messages", "too-large", "bad-receipt", "bad-attribute"],
)
def test_sqs_validation_errors(sqs: Any, queue_url: str, call: Any, code: str) -> None:
    with pytest.raises(ClientError) as error:
        call(sqs, queue_url)
    assert _code(error) == code


def test_batch_errors_are_catchable_as_client_exceptions(sqs: Any, queue_url: str) -> None:
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[])


def test_queue_url_names_the_queue(sqs: Any, queue_url: str) -> None:
    assert sqs.get_queue_url(QueueName="app-queue")["QueueUrl"] == queue_url
    assert queue_url.endswith("/000000000000/app-queue")


def test_validation_errors_reach_no_queue() -> None:
    counted = FaultyQueue(MemoryQueue("counted"))
    with FailoverQueue([counted], drain_interval=None) as queue:
        client = compat.client("sqs", queues={"q": queue}, **NOWHERE)
        url = client.create_queue(QueueName="q")["QueueUrl"]
        counted.reset_counts()
        with pytest.raises(client.exceptions.EmptyBatchRequest):
            client.send_message_batch(QueueUrl=url, Entries=[])
        with pytest.raises(ClientError):
            client.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
        assert counted.total_calls == 0


def test_a_fifo_queue_keeps_group_and_dedup_ids() -> None:
    with FailoverQueue([MemoryQueue("fifo")], drain_interval=None) as queue:
        client = compat.client("sqs", queues={"jobs.fifo": queue}, **NOWHERE)
        url = client.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g1", MessageDeduplicationId="d1")
        got = client.receive_message(QueueUrl=url, AttributeNames=["MessageGroupId", "MessageDeduplicationId"])
        assert got["Messages"][0]["Attributes"] == {"MessageGroupId": "g1", "MessageDeduplicationId": "d1"}


def test_a_fifo_send_without_a_group_is_missing_parameter() -> None:
    with FailoverQueue([MemoryQueue("fifo")], drain_interval=None) as queue:
        client = compat.client("sqs", queues={"jobs.fifo": queue}, **NOWHERE)
        url = client.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        with pytest.raises(ClientError) as error:
            client.send_message(QueueUrl=url, MessageBody="m")
        assert _code(error) == "MissingParameter"


def test_purge_empties_every_queue(sqs: Any, queue_url: str) -> None:
    for batch in range(2):
        entries = [{"Id": str(i), "MessageBody": f"m{batch}-{i}"} for i in range(10)]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    sqs.purge_queue(QueueUrl=queue_url)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)


def test_list_queues_names_the_queues_given_to_the_client(sqs: Any, queue_url: str) -> None:
    assert sqs.list_queues()["QueueUrls"] == [queue_url]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="other")

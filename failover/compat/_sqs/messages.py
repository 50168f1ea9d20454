"""SendMessage(+Batch), ReceiveMessage, DeleteMessage(+Batch), ChangeMessageVisibility(+Batch).

SQS's validation comes first, before any queue is called; then each call goes through the
`FailoverQueue` of the queue name, and errors come back with SQS's codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from failover.compat._errors import Reply, S3Error
from failover.compat._s3._shapes import failover_errors
from failover.compat._sqs.attributes import GROUP, SENT, decode, encode, invalid, md5_of_attributes, md5_of_body, select
from failover.compat._sqs.backend import QueueBackend
from failover.interfaces import OutgoingMessage

__all__ = ["MESSAGES"]

MAX_BODY = 1024 * 1024  # SQS takes 1 MiB messages since August 2025
MAX_BATCH = 10
SqsHandler = Callable[[QueueBackend, Mapping[str, Any]], Reply]


def _outgoing(backend: QueueBackend, entry: Mapping[str, Any]) -> tuple[OutgoingMessage, dict[str, Any]]:
    body = entry.get("MessageBody")
    if body is None or body == "":
        raise invalid("The request must contain the parameter MessageBody.", "MissingParameter")
    typed = entry.get("MessageAttributes") or {}
    flat = encode(typed)
    size = len(str(body).encode()) + sum(len(n) + len(v) for n, v in flat.items())
    if size > MAX_BODY:
        raise invalid(f"One or more parameters are invalid. Reason: Message must be shorter than {MAX_BODY} bytes.")
    delay = int(entry.get("DelaySeconds") or backend.attributes.get("DelaySeconds") or 0)
    if not 0 <= delay <= 900:
        raise invalid(f"Value {delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.")
    dedup = entry.get("MessageDeduplicationId")
    if backend.fifo:
        if not entry.get("MessageGroupId"):
            raise invalid("The request must contain the parameter MessageGroupId.", "MissingParameter")
        flat[GROUP] = str(entry["MessageGroupId"])
    flat[SENT] = str(int(time.time() * 1000))
    fields = {"MD5OfMessageBody": md5_of_body(str(body))}
    if typed:
        fields["MD5OfMessageAttributes"] = md5_of_attributes(typed)
    return OutgoingMessage(str(body).encode(), flat, dedup, float(delay)), fields


def send_message(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    message, fields = _outgoing(backend, params)
    with failover_errors(not_found="QueueDoesNotExist"):
        message_id = backend.queue.send(
            message.body, attributes=message.attributes, dedup_id=message.dedup_id, delay=message.delay
        )
    return Reply({**fields, "MessageId": message_id})


def _batch(entries: Sequence[Mapping[str, Any]]) -> None:
    if not entries:
        raise invalid("There should be at least one SendMessageBatchRequestEntry in the request.", "EmptyBatchRequest")
    if len(entries) > MAX_BATCH:
        raise invalid(f"Maximum number of entries per request are {MAX_BATCH}.", "TooManyEntriesInBatchRequest")
    ids = [str(entry.get("Id")) for entry in entries]
    if len(set(ids)) != len(ids):
        raise invalid("Id must be distinct among batch entries.", "BatchEntryIdsNotDistinct")


def _failed(entry_id: str, error: S3Error) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": error.status < 500, "Code": error.code, "Message": error.message}


def send_message_batch(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    entries = params.get("Entries") or []
    _batch(entries)
    prepared: list[tuple[str, OutgoingMessage, dict[str, Any]]] = []
    failed: list[dict[str, Any]] = []
    for entry in entries:
        try:
            message, fields = _outgoing(backend, entry)
        except S3Error as exc:
            failed.append(_failed(str(entry["Id"]), exc))
        else:
            prepared.append((str(entry["Id"]), message, fields))
    with failover_errors(not_found="QueueDoesNotExist"):
        results = backend.queue.send_batch([message for _, message, _ in prepared]) if prepared else []
    successful: list[dict[str, Any]] = []
    for (entry_id, _, fields), result in zip(prepared, results, strict=True):
        if result.ok:
            successful.append({"Id": entry_id, "MessageId": result.id, **fields})
        else:
            failed.append({"Id": entry_id, "SenderFault": False, "Code": "InternalError", "Message": str(result.error)})
    return Reply({"Successful": successful, "Failed": failed})


def _system(
    names: Sequence[str], message_attributes: Mapping[str, str], count: int, dedup: str | None
) -> dict[str, str]:
    available = {
        "SentTimestamp": message_attributes.get(SENT, ""),
        "ApproximateReceiveCount": str(count),
        "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        "SenderId": "failover",
    }
    if GROUP in message_attributes:
        available["MessageGroupId"] = message_attributes[GROUP]
        if dedup:
            available["MessageDeduplicationId"] = dedup
    if "All" in names:
        return available
    return {name: available[name] for name in names if name in available}


def receive_message(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    asked_most = params.get("MaxNumberOfMessages")
    most = 1 if asked_most is None else int(asked_most)
    if not 1 <= most <= MAX_BATCH:
        raise invalid(f"Value {most} for parameter MaxNumberOfMessages is invalid. Reason: must be between 1 and 10.")
    asked_wait = params.get("WaitTimeSeconds")
    wait = int(asked_wait if asked_wait is not None else backend.attributes["ReceiveMessageWaitTimeSeconds"])
    if not 0 <= wait <= 20:
        raise invalid(f"Value {wait} for parameter WaitTimeSeconds is invalid. Reason: must be between 0 and 20.")
    visibility = params.get("VisibilityTimeout")
    visibility = float(visibility if visibility is not None else backend.attributes["VisibilityTimeout"])
    names = list(params.get("MessageSystemAttributeNames") or []) + list(params.get("AttributeNames") or [])
    wanted = list(params.get("MessageAttributeNames") or [])
    with failover_errors(not_found="QueueDoesNotExist"):
        received = backend.queue.receive(most, wait=float(wait), visibility=visibility, timeout=wait + 10.0)
    messages = []
    for message in received:
        body = message.body.decode()
        entry: dict[str, Any] = {
            "MessageId": message.id,
            "ReceiptHandle": backend.receipts.issue(message),
            "MD5OfBody": md5_of_body(body),
            "Body": body,
        }
        system = _system(names, message.attributes, message.delivery_count, message.dedup_id)
        if system:
            entry["Attributes"] = system
        typed = select(decode(message.attributes), wanted)
        if typed:
            entry["MessageAttributes"] = typed
            entry["MD5OfMessageAttributes"] = md5_of_attributes(typed)
        messages.append(entry)
    return Reply({"Messages": messages} if messages else {})


def delete_message(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    handle = str(params.get("ReceiptHandle") or "")
    message = backend.receipts.message(handle)
    with failover_errors(not_found="QueueDoesNotExist"):
        backend.queue.ack(message)
    backend.receipts.forget(handle)
    return Reply({})


def change_message_visibility(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
    message = backend.receipts.message(str(params.get("ReceiptHandle") or ""))
    seconds = int(params["VisibilityTimeout"])
    if not 0 <= seconds <= 43200:
        raise invalid(
            f"Value {seconds} for parameter VisibilityTimeout is invalid. Reason: must be between 0 and 43200."
        )
    with failover_errors(not_found="QueueDoesNotExist"):
        if seconds == 0:
            backend.queue.nack(message)
        else:
            backend.queue.extend(message, float(seconds))
    return Reply({})


def _each(single: SqsHandler) -> SqsHandler:
    def batch(backend: QueueBackend, params: Mapping[str, Any]) -> Reply:
        entries = params.get("Entries") or []
        _batch(entries)
        successful, failed = [], []
        for entry in entries:
            try:
                single(backend, entry)
            except S3Error as exc:
                failed.append(_failed(str(entry["Id"]), exc))
            else:
                successful.append({"Id": entry["Id"]})
        return Reply({"Successful": successful, "Failed": failed})

    return batch


MESSAGES: dict[str, SqsHandler] = {
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": _each(delete_message),
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": _each(change_message_visibility),
}

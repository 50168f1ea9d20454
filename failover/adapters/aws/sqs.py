"""`SqsQueue`: one SQS queue, standard or FIFO, as a `MessageQueue`.

Bodies are bytes; `_bodies` says how they cross SQS's text-only bodies. Attributes go as String
message attributes, the dedup id among them (``failover_dedup_id``). On a FIFO queue every message
goes in one message group (``"failover"``), so the queue keeps send order, and the dedup id is the
MessageDeduplicationId (a fresh one when none is given: no content-based dedup surprises).

SQS long-polls in whole seconds, at most 20 a call, and returns at most 10 messages: the whole
seconds of ``wait`` are long-polled, its fraction is spent on short polls a moment apart (so a
receive never waits longer than asked: a hung SQS then leaves the caller time to ask another
queue), a longer one takes several calls.
A receipt that names no message in flight (``ReceiptHandleIsInvalid``: already acked, expired, or
never issued) raises `NotFound`; a receipt that is not an SQS receipt handle at all raises
`InvalidRequest` before the network.

`send_batch` sends SendMessageBatch calls of at most 10 entries and 1 MiB. When one call fails as a
whole, its entries share the error; on a FIFO queue the calls after it are not made (their entries
get a retryable `ProviderUnavailable`), so that a retry cannot deliver them ahead of the failed ones.

``capabilities.max_message_size`` assumes the queue takes 1 MiB messages (SQS's default since
2025, and what ``ensure`` creates); an older queue set to 256 KiB refuses larger bodies itself.
"""

from __future__ import annotations

import base64
import math
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from failover.adapters._arguments import check_ack, check_batch, check_extend, check_nack, check_receive
from failover.adapters._messages import prepare_send, split_attributes
from failover.adapters._timing import AttemptTime
from failover.adapters.aws._bodies import (
    ENCODING_KEY,
    MAX_BODY,
    MAX_CALLER_ATTRIBUTES,
    SQS_MAX_MESSAGE,
    attribute_bytes,
    decode_body,
    encode_body,
)
from failover.adapters.aws._client import ClientCache, long_poll_slot
from failover.adapters.aws._errors import entry_error, translate_errors
from failover.config import SqsConfig
from failover.errors import (
    ConfigError,
    Disposition,
    FailoverError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    ProviderUnavailable,
    Reason,
)
from failover.interfaces import Message, MessageId, OutgoingMessage, QueueCapabilities, SendResult

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient
    from types_boto3_sqs.literals import QueueAttributeNameType
    from types_boto3_sqs.type_defs import MessageTypeDef, SendMessageBatchRequestEntryTypeDef

__all__ = ["SqsQueue"]

PROVIDER = "aws"
FIFO_GROUP = "failover"
MAX_LONG_POLL = 20  # seconds: SQS's limit on one ReceiveMessage's WaitTimeSeconds
MAX_VISIBILITY = 12 * 3600
MAX_RECEIVE = 10
MAX_BATCH = 10
_SHORT_POLL_PAUSE = 0.1  # seconds between the short polls that spend the fraction of a wait
_POLL_SLACK = 0.05  # seconds a long poll may overrun the wait (so wait=1 long-polls 1 s, not 0)


@dataclass(slots=True)
class _Prepared:
    """One outgoing message, checked and encoded."""

    entry: dict[str, Any]
    size: int  # the bytes SQS counts: body and attributes


def _whole_seconds(value: object, *, name: str, upper: float) -> int:
    """``value`` seconds as SQS's whole seconds, rounded up (never shorter than asked)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= upper:
        raise InvalidRequest(f"{name} is 0 to {upper:g} seconds, not {value!r}", rule=name, imposed_by="SQS")
    return math.ceil(value)


class SqsQueue:
    """One SQS queue. ``timeout=`` on each call is that attempt's read timeout in seconds."""

    def __init__(self, config: SqsConfig) -> None:
        if config.fifo != config.queue.endswith(".fifo"):
            raise ConfigError(
                f"an SQS queue is FIFO exactly when its name ends in '.fifo' "
                f"(queue={config.queue!r}, fifo={config.fifo})",
                field="queue",
            )
        self._config = config
        self._name = config.name or f"aws:sqs:{config.queue}"
        self._clients = ClientCache(config, "sqs", user="SqsQueue")
        self._url: str | None = None
        self._url_lock = threading.Lock()
        self._capabilities = QueueCapabilities(
            max_message_size=MAX_BODY,
            max_attributes=MAX_CALLER_ATTRIBUTES,
            # FIFO queues take no per-message delay.
            max_delay=0.0 if config.fifo else 900.0,
            fifo=config.fifo,
            native_dedup=config.fifo,
            max_batch=MAX_BATCH,
            max_visibility=float(MAX_VISIBILITY),
        )
        if config.ensure:
            self._ensure_queue()

    @property
    def read_timeout(self) -> float:
        """Seconds one request waits for an answer when the call names no timeout (the configured
        ``read_timeout``): the failover engine's default attempt timeout for this endpoint."""
        return self._config.read_timeout

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def capabilities(self) -> QueueCapabilities:
        return self._capabilities

    @property
    def config(self) -> SqsConfig:
        return self._config

    @property
    def clients(self) -> ClientCache:
        return self._clients

    def _client(self, timeout: float | None, *, outlast: bool = False) -> SQSClient:
        return cast("SQSClient", self._clients.get(timeout, outlast=outlast))

    def _ensure_queue(self) -> None:
        try:
            self._queue_url(None, "ensure")
            return
        except NotFound:
            pass
        attributes: dict[QueueAttributeNameType, str] = {"MaximumMessageSize": str(SQS_MAX_MESSAGE)}
        if self._config.fifo:
            attributes["FifoQueue"] = "true"
        # CreateQueue returns the existing queue when its attributes match: a race with another
        # process creating it is harmless.
        with translate_errors(operation="ensure", write=True):
            url = self._client(None).create_queue(QueueName=self._config.queue, Attributes=attributes)["QueueUrl"]
        self._url = url

    def _queue_url(self, timeout: float | None, operation: str) -> str:
        # Looked up once, on first use: a queue created after this object still works.
        if self._url is None:
            with self._url_lock:
                if self._url is None:
                    with translate_errors(operation=operation):
                        self._url = self._client(timeout).get_queue_url(QueueName=self._config.queue)["QueueUrl"]
        return self._url

    def _url_then(self, timeout: float | None, operation: str) -> tuple[str, float | None]:
        """The queue URL, and the timeout of the request after it: what the lookup, if one was made,
        left of the attempt's ``timeout`` (None: the config's), else ``timeout`` unchanged."""
        if self._url is not None:
            return self._url, timeout
        attempt = AttemptTime(self._config.read_timeout if timeout is None else timeout)
        url = self._queue_url(attempt.left(), operation)
        return url, attempt.left()

    def _prepare(
        self,
        body: object,
        attributes: Mapping[str, str] | None,
        dedup_id: str | None,
        delay: float,
        timeout: float | None = None,
    ) -> _Prepared:
        checked = prepare_send(
            body,
            attributes=attributes,
            dedup_id=dedup_id,
            delay=delay,
            capabilities=self._capabilities,
            provider="SQS",
            timeout=timeout,
        )
        text, encoding = encode_body(bytes(cast("bytes", body)))
        if encoding is not None:
            checked[ENCODING_KEY] = encoding
        entry: dict[str, Any] = {
            "MessageBody": text,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value} for name, value in checked.items()
            },
        }
        if self._config.fifo:
            entry["MessageGroupId"] = FIFO_GROUP
            entry["MessageDeduplicationId"] = dedup_id or uuid.uuid4().hex
        elif delay:
            entry["DelaySeconds"] = math.ceil(delay)
        return _Prepared(entry, len(text.encode("utf-8")) + attribute_bytes(checked))

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        prepared = self._prepare(body, attributes, dedup_id, delay, timeout)
        url, timeout = self._url_then(timeout, "send")
        with translate_errors(operation="send", write=True):
            response = self._client(timeout).send_message(QueueUrl=url, **prepared.entry)
        message_id = response.get("MessageId")
        if not message_id:
            # Seen through the fault proxy: an answer cut short parses as a success without an id.
            # The request was sent and may have been acted on.
            raise OutcomeUnknown(
                "SQS answered the send without a message id: it may or may not have been sent",
                provider="aws",
                operation="send",
            )
        return str(message_id)

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        results: list[SendResult | None] = []
        ready: list[tuple[int, _Prepared]] = []
        for index, message in enumerate(check_batch(messages, timeout)):
            try:
                ready.append((index, self._prepare(message.body, message.attributes, message.dedup_id, message.delay)))
                results.append(None)
            except InvalidRequest as error:
                results.append(SendResult(error=error))
        failed: FailoverError | None = None
        # The batch's calls share the attempt: the first gets its timeout, each later one what is left.
        attempt = AttemptTime(self._config.read_timeout if timeout is None else timeout)
        for number, chunk in enumerate(_chunks(ready)):
            if failed is not None and self._config.fifo:
                # Sending the rest would deliver them ahead of the failed ones: a FIFO batch stops here.
                for index, _ in chunk:
                    results[index] = SendResult(error=failed)
                continue
            for index, result in self._send_chunk(chunk, timeout if number == 0 else attempt.left()):
                results[index] = result
                if (
                    self._config.fifo
                    and failed is None
                    and isinstance(result.error, OutcomeUnknown | ProviderUnavailable)
                ):
                    failed = ProviderUnavailable(
                        f"not sent: an earlier part of this FIFO batch failed ({result.error})",
                        reason=getattr(result.error, "reason", Reason.OTHER),
                        disposition=Disposition.RETRY,
                        provider=PROVIDER,
                        operation="send",
                    )
        unanswered = OutcomeUnknown("SQS answered nothing for this entry", provider=PROVIDER, operation="send")
        return [result if result is not None else SendResult(error=unanswered) for result in results]

    def _send_chunk(
        self, chunk: list[tuple[int, _Prepared]], timeout: float | None
    ) -> Iterable[tuple[int, SendResult]]:
        entries = cast(
            "list[SendMessageBatchRequestEntryTypeDef]",
            [{"Id": str(position), **prepared.entry} for position, (_, prepared) in enumerate(chunk)],
        )
        try:
            url, timeout = self._url_then(timeout, "send")
            with translate_errors(operation="send", write=True):
                response = self._client(timeout).send_message_batch(QueueUrl=url, Entries=entries)
        except FailoverError as failed:
            # The whole call failed (network, missing queue): every entry of it shares the outcome,
            # and the entries of other calls keep theirs.
            return [(index, SendResult(error=failed)) for index, _ in chunk]
        out: list[tuple[int, SendResult]] = []
        for success in response.get("Successful", []):
            out.append((chunk[int(success["Id"])][0], SendResult(id=success["MessageId"])))
        for failure in response.get("Failed", []):
            error = entry_error(
                failure.get("Code", ""),
                failure.get("Message", ""),
                sender_fault=failure.get("SenderFault", False),
                operation="send",
            )
            out.append((chunk[int(failure["Id"])][0], SendResult(error=error)))
        return out

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        check_receive(max_messages, wait, visibility, timeout, capabilities=self._capabilities, imposed_by="SQS")
        options: dict[str, Any] = {
            "MaxNumberOfMessages": min(max_messages, MAX_RECEIVE),
            "MessageAttributeNames": ["All"],
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }
        if visibility is not None:
            options["VisibilityTimeout"] = _whole_seconds(visibility, name="visibility", upper=MAX_VISIBILITY)
        attempt = self._config.read_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        hold_until = deadline + attempt  # the call ends by then: its wait, and one attempt on top
        url = self._queue_url(attempt, "receive")
        while True:
            now = time.monotonic()
            # The time spent since the call began is not taken from a whole second asked for.
            poll = min(MAX_LONG_POLL, math.floor(max(0.0, deadline - now) + _POLL_SLACK))
            # The answer of a long poll comes after the poll: the read timeout must outlast it, and
            # end by the hold; a poll too long for both is shortened, and the loop polls again.
            read, poll = long_poll_slot(max(hold_until - now, 0.0), poll, attempt=attempt)
            with translate_errors(operation="receive"):
                response = self._clients.at(read).receive_message(QueueUrl=url, WaitTimeSeconds=poll, **options)
            messages = response.get("Messages", [])
            left = deadline - time.monotonic()
            if messages or left <= 0:
                return [self._message(message) for message in messages]
            if poll == 0:
                time.sleep(min(_SHORT_POLL_PAUSE, left))

    def _message(self, raw: MessageTypeDef) -> Message:
        attributes: dict[str, str] = {}
        for name, value in raw.get("MessageAttributes", {}).items():
            if "StringValue" in value:
                attributes[name] = value["StringValue"]
            elif "BinaryValue" in value:  # from another producer: keep it, as text
                attributes[name] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        text = raw.get("Body", "")
        body = decode_body(text, attributes.get(ENCODING_KEY))
        if body is None:
            # A marker this adapter did not write: deliver the text as it is, the marker with it,
            # rather than fail the whole receive (the other messages are already hidden).
            body = text.encode("utf-8")
        else:
            attributes.pop(ENCODING_KEY, None)
        user, dedup_id = split_attributes(attributes)
        return Message(
            body=body,
            attributes=user,
            id=raw["MessageId"],
            provider=PROVIDER,
            receipt=raw["ReceiptHandle"],
            delivery_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            dedup_id=dedup_id,
            queue=self._name,
        )

    def _receipt(self, message: Message) -> str:
        receipt = getattr(message, "receipt", None)
        if not isinstance(receipt, str) or not receipt:
            raise InvalidRequest(
                f"{self._name} takes back only messages it delivered (receipt {receipt!r})", rule="receipt"
            )
        return receipt

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        check_ack(message, timeout)
        receipt = self._receipt(message)
        url, timeout = self._url_then(timeout, "ack")
        with translate_errors(operation="ack", write=True):
            self._client(timeout).delete_message(QueueUrl=url, ReceiptHandle=receipt)

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        check_nack(message, delay, timeout, capabilities=self._capabilities, imposed_by="SQS")
        self._change_visibility(message, _whole_seconds(delay, name="delay", upper=MAX_VISIBILITY), "nack", timeout)

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        check_extend(message, visibility, timeout, capabilities=self._capabilities, imposed_by="SQS")
        seconds = _whole_seconds(visibility, name="visibility", upper=MAX_VISIBILITY)
        self._change_visibility(message, seconds, "extend", timeout)

    def _change_visibility(self, message: Message, seconds: int, operation: str, timeout: float | None) -> None:
        receipt = self._receipt(message)
        url, timeout = self._url_then(timeout, operation)
        with translate_errors(operation=operation, write=True):
            self._client(timeout).change_message_visibility(
                QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )

    def probe(self, *, timeout: float | None = None) -> None:
        """A cheap call that proves the queue answers (its attributes); the failover layer's health probe."""
        url, timeout = self._url_then(timeout, "probe")
        with translate_errors(operation="probe"):
            self._client(timeout).get_queue_attributes(QueueUrl=url, AttributeNames=["CreatedTimestamp"])

    def close(self) -> None:
        self._clients.close()

    def __repr__(self) -> str:
        return f"SqsQueue(name={self._name!r}, queue={self._config.queue!r}, endpoint={self._config.endpoint_url!r})"


def _chunks(ready: list[tuple[int, _Prepared]]) -> Iterable[list[tuple[int, _Prepared]]]:
    """SendMessageBatch calls: at most 10 entries and 1 MiB of bodies and attributes each."""
    chunk: list[tuple[int, _Prepared]] = []
    size = 0
    for item in ready:
        if chunk and (len(chunk) == MAX_BATCH or size + item[1].size > SQS_MAX_MESSAGE):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item[1].size
    if chunk:
        yield chunk

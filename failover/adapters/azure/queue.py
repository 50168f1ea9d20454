"""`AzureQueue`: one Azure Queue Storage queue as a `MessageQueue`.

Azure Queue messages are text with no attributes, and the service has no dedup. The adapter sends
an envelope as the message text: compact JSON ``{"v":1,"b":"<base64 body>","a":{attributes}}``,
the dedup id among the attributes (``failover_dedup_id``). The envelope is pure ASCII with ``<``,
``>`` and ``&`` escaped as JSON ``\\u`` sequences, so the text the service stores and measures
against its 64 KiB limit is exactly the text sent. Every byte of a body costs 4/3 characters, and
every character of an attribute up to 6 (``<`` is ``\\u003c``): `body_room` says how large a body
fits beside given attributes, and ``capabilities.max_message_size`` is the room left beside the
longest dedup id (128 characters, all escaped), so a body of that size always fits. A message some
other producer wrote (not an envelope) is delivered with its text, UTF-8 encoded, as the body and no attributes.

The service has no long poll: a receive with ``wait`` polls, pausing ``config.poll_interval`` at
first and longer after each empty answer, and returns as soon as messages arrive.

Receipts: the id and the pop receipt. Updating a message (nack, extend) hands out a new pop receipt,
which the adapter stores in the message's `AzureReceipt` so a later ack works. A receipt that no
longer matches (the message was received again by someone else, or an older copy of the receipt is
used) raises `NotFound`, as does a message that no longer exists: the caller's claim on it is gone.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from failover.adapters._arguments import check_ack, check_batch, check_extend, check_nack, check_receive
from failover.adapters._messages import DEDUP_KEY, prepare_send, split_attributes
from failover.adapters._sdk import require
from failover.adapters.azure._client import call_timeouts, client_options, resolve_connection
from failover.adapters.azure._errors import PROVIDER, error_code, translate_errors
from failover.config import AzureQueueConfig
from failover.errors import FailoverError, InvalidRequest, OutcomeUnknown, ProviderUnavailable, Reason
from failover.interfaces import Message, MessageId, OutgoingMessage, QueueCapabilities, SendResult

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient, QueueMessage

__all__ = ["AzureQueue", "AzureReceipt"]

MESSAGE_LIMIT = 64 * 1024  # characters of message text the service stores
_ENVELOPE_VERSION = 1
MAX_ATTRIBUTES = 10  # failover's own (the dedup id) included
MAX_RECEIVE = 32  # messages one Get Messages call returns
MAX_VISIBILITY = 7 * 24 * 3600  # the service's limit on visibility and on a send's initial delay
_DEFAULT_TTL = 7 * 24 * 3600  # the service's default time to live
_MAX_POLL_PAUSE = 1.0  # a message sent during a wait is seen within about this long
_XML_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@dataclass(slots=True)
class AzureReceipt:
    """Where to ack, nack or extend one delivered message. Mutable: an update brings a new pop receipt."""

    queue: str
    message_id: str
    pop_receipt: str = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


def encode_envelope(body: bytes, attributes: Mapping[str, str]) -> str:
    """The message text for ``body`` and ``attributes`` (the dedup id among them)."""
    envelope: dict[str, Any] = {"v": _ENVELOPE_VERSION, "b": base64.b64encode(body).decode("ascii")}
    if attributes:
        envelope["a"] = dict(attributes)
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True).translate(_XML_UNSAFE)


def _room(attributes: Mapping[str, str]) -> int:
    """The largest body of any bytes whose envelope, with ``attributes``, fits: base64 is 4 characters per 3 bytes."""
    return max(0, (MESSAGE_LIMIT - len(encode_envelope(b"", attributes))) // 4 * 3)


# The largest body of any bytes beside the longest dedup id, every character of it escaped.
MAX_BODY = _room({DEDUP_KEY: "<" * 128})


def decode_envelope(text: str | None) -> tuple[bytes, dict[str, str]]:
    """``(body, attributes)`` from a message's text; a foreign text is its own UTF-8 body."""
    if not text:
        return b"", {}
    if text.startswith("{"):
        try:
            envelope = json.loads(text)
            if isinstance(envelope, dict) and envelope.get("v") == _ENVELOPE_VERSION:
                body = base64.b64decode(envelope["b"], validate=True)
                attributes = envelope.get("a", {})
                if isinstance(attributes, dict) and all(
                    isinstance(name, str) and isinstance(value, str) for name, value in attributes.items()
                ):
                    return body, attributes
        except (ValueError, KeyError, TypeError, binascii.Error):
            pass
    return text.encode("utf-8", "surrogatepass"), {}


class AzureQueue:
    """A `MessageQueue` over one Azure Queue Storage queue (or Azurite's)."""

    def __init__(self, config: AzureQueueConfig) -> None:
        sdk = require("azure.storage.queue", extra="azure", user="AzureQueue")
        self._config = config
        self._connection = resolve_connection(config, user="AzureQueue")
        client: QueueClient = self._connection.client(sdk.QueueClient, config.queue, **client_options(config))
        self._client = client
        self._name = config.name or f"azure:queue:{config.queue}"
        self._capabilities = QueueCapabilities(
            max_message_size=MAX_BODY,
            max_attributes=MAX_ATTRIBUTES,
            max_delay=float(MAX_VISIBILITY),
            fifo=False,
            native_dedup=False,
            max_batch=MAX_RECEIVE,
            max_visibility=float(MAX_VISIBILITY),
        )
        # Set by close(): a receive waiting between polls returns at once.
        self._closed = threading.Event()
        if config.ensure:
            self._ensure_queue()

    def __repr__(self) -> str:
        return f"AzureQueue(name={self._name!r})"

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

    def body_room(self, attributes: Mapping[str, str]) -> int:
        """The largest body of any bytes that fits in one message beside ``attributes`` (the dedup id
        under ``failover_dedup_id``, as `prepare_send` returns them)."""
        return min(MAX_BODY, _room(attributes))

    def _ensure_queue(self) -> None:
        with translate_errors("ensure"):
            try:
                self._client.create_queue(**call_timeouts(self._config, None))
            except Exception as exc:
                if error_code(exc) != "QueueAlreadyExists":
                    raise

    def _prepare(
        self,
        body: object,
        attributes: Mapping[str, str] | None,
        dedup_id: str | None,
        delay: float,
        timeout: float | None = None,
    ) -> str:
        checked = prepare_send(
            body,
            attributes=attributes,
            dedup_id=dedup_id,
            delay=delay,
            capabilities=self._capabilities,
            provider="Azure Queue",
            timeout=timeout,
        )
        text = encode_envelope(bytes(cast("bytes", body)), checked)
        if len(text) > MESSAGE_LIMIT:
            raise InvalidRequest(
                f"Azure Queue stores messages of at most {MESSAGE_LIMIT} characters; this body and its attributes "
                f"encode to {len(text)} [message.max_size; Azure Queue]",
                rule="message.max_size",
                imposed_by="Azure Queue",
                provider=PROVIDER,
                operation="send",
            )
        return text

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        text = self._prepare(body, attributes, dedup_id, delay, timeout)
        return self._send_text(text, delay, call_timeouts(self._config, timeout))

    def _send_text(self, text: str, delay: float, options: dict[str, Any]) -> MessageId:
        if delay > 0:
            seconds = math.ceil(delay)
            # The service wants the delay shorter than the time to live: keep the default 7 days of
            # life after the message becomes visible.
            options = {**options, "visibility_timeout": seconds, "time_to_live": _DEFAULT_TTL + seconds}
        with translate_errors("send", write=True):
            sent = self._client.send_message(text, **options)
        return str(sent.id)

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        """One send per entry (the service has no batch send), in order, within ``timeout`` in all.

        After a provider failure the remaining entries are not tried: they fail with that error, or
        with `ProviderUnavailable` when the failure was an `OutcomeUnknown` (they were not sent).
        """
        batch = check_batch(messages, timeout)
        options = call_timeouts(self._config, timeout)
        deadline = time.monotonic() + options["read_timeout"]
        results: list[SendResult] = []
        failed: FailoverError | None = None
        for message in batch:
            try:
                text = self._prepare(message.body, message.attributes, message.dedup_id, message.delay)
            except InvalidRequest as error:
                results.append(SendResult(error=error))
                continue
            left = deadline - time.monotonic()
            if failed is None and left <= 0:
                failed = ProviderUnavailable(
                    "the batch ran out of time before this entry", reason=Reason.READ_TIMEOUT, **self._where("send")
                )
            if failed is not None:
                results.append(SendResult(error=failed))
                continue
            try:
                attempt = {
                    **options,
                    "read_timeout": left,
                    "connection_timeout": min(options["connection_timeout"], left),
                }
                results.append(SendResult(id=self._send_text(text, message.delay, attempt)))
            except FailoverError as error:
                results.append(SendResult(error=error))
                if isinstance(error, OutcomeUnknown):
                    failed = ProviderUnavailable(
                        f"not sent: an earlier entry of the batch met {type(error).__name__}", **self._where("send")
                    )
                else:
                    failed = error
        return results

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        check_receive(
            max_messages, wait, visibility, timeout, capabilities=self._capabilities, imposed_by="Azure Queue"
        )
        options = call_timeouts(self._config, timeout)
        if visibility is not None:
            options["visibility_timeout"] = _whole_seconds(visibility, "visibility", minimum=1)
        deadline = time.monotonic() + wait
        pause = self._config.poll_interval
        while True:
            with translate_errors("receive"):
                raw = list(
                    self._client.receive_messages(
                        messages_per_page=min(max_messages, MAX_RECEIVE), max_messages=max_messages, **options
                    )
                )
            left = deadline - time.monotonic()
            if raw or left <= 0:
                return [self._message(item) for item in raw]
            if self._closed.wait(min(pause, left)):
                return []
            pause = min(pause * 2, max(_MAX_POLL_PAUSE, self._config.poll_interval))

    def _message(self, raw: QueueMessage) -> Message:
        body, attributes = decode_envelope(raw.content)
        user, dedup_id = split_attributes(attributes)
        return Message(
            body=body,
            attributes=user,
            id=str(raw.id),
            provider=PROVIDER,
            receipt=AzureReceipt(self._name, str(raw.id), str(raw.pop_receipt)),
            delivery_count=int(raw.dequeue_count or 1),
            dedup_id=dedup_id,
            queue=self._name,
        )

    def _receipt(self, message: Message, operation: str) -> AzureReceipt:
        receipt = getattr(message, "receipt", None)
        if not isinstance(receipt, AzureReceipt) or receipt.queue != self._name:
            raise InvalidRequest(
                f"{self._name} takes back only messages it delivered (receipt {receipt!r})",
                rule="receipt",
                imposed_by="failover",
                **self._where(operation),
            )
        return receipt

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        check_ack(message, timeout)
        receipt = self._receipt(message, "ack")
        options = call_timeouts(self._config, timeout)
        with receipt.lock, translate_errors("ack", key=receipt.message_id, write=True):
            self._client.delete_message(receipt.message_id, receipt.pop_receipt, **options)

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        check_nack(message, delay, timeout, capabilities=self._capabilities, imposed_by="Azure Queue")
        self._update(message, _whole_seconds(delay, "delay", minimum=0), "nack", timeout)

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        check_extend(message, visibility, timeout, capabilities=self._capabilities, imposed_by="Azure Queue")
        self._update(message, _whole_seconds(visibility, "visibility", minimum=0), "extend", timeout)

    def _update(self, message: Message, seconds: int, operation: str, timeout: float | None) -> None:
        receipt = self._receipt(message, operation)
        options = call_timeouts(self._config, timeout)
        with receipt.lock, translate_errors(operation, key=receipt.message_id, write=True):
            updated = self._client.update_message(
                receipt.message_id, pop_receipt=receipt.pop_receipt, visibility_timeout=seconds, **options
            )
            # The old pop receipt is void from now on; the next ack, nack or extend needs this one.
            if updated.pop_receipt:
                receipt.pop_receipt = str(updated.pop_receipt)

    def probe(self, *, timeout: float | None = None) -> None:
        """A cheap call that proves the queue answers (its properties); the failover layer's health probe."""
        with translate_errors("probe"):
            self._client.get_queue_properties(**call_timeouts(self._config, timeout))

    def close(self) -> None:
        self._closed.set()
        self._client.close()
        self._connection.close()

    def _where(self, operation: str) -> dict[str, Any]:
        return {"provider": PROVIDER, "operation": operation}


def _whole_seconds(value: float, name: str, *, minimum: int) -> int:
    """Seconds as the service takes them: whole, rounded up, ``minimum`` to 7 days.

    A receive's visibility must be at least 1 s (``minimum=1``, and any fraction rounds up to it);
    an update's may be 0.
    """
    valid = not isinstance(value, bool) and isinstance(value, int | float)
    if not valid or not (value > 0 if minimum else value >= 0) or value > MAX_VISIBILITY:
        raise InvalidRequest(
            f"{name} is {'more than 0' if minimum else '0'} to {MAX_VISIBILITY} seconds for Azure Queue, not {value!r}",
            rule=name,
            imposed_by="Azure Queue",
        )
    return max(minimum, math.ceil(value))

"""One SQS queue name as the drop-in serves it: its `FailoverQueue`, its URL, its attributes, and the
messages it handed out by receipt handle (a handle names the provider that delivered the message)."""

from __future__ import annotations

import base64
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from failover.compat._sqs.attributes import invalid
from failover.compat._sqs.counts import Counter
from failover.compat._when_back import WhenBack
from failover.interfaces import Message, MessageQueue

__all__ = ["DEFAULT_ATTRIBUTES", "QueueBackend", "Receipts", "queue_name"]

DEFAULT_ATTRIBUTES = {
    "VisibilityTimeout": "30",
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
}
_KEPT = 100_000  # receipt handles remembered per queue; older ones are answered as invalid


def queue_name(url: str) -> str:
    """The queue name at the end of an SQS queue URL."""
    return url.rstrip("/").rsplit("/", 1)[-1]


class Receipts:
    """Messages by the receipt handle the caller was given; bounded, oldest forgotten first."""

    def __init__(self) -> None:
        self._messages: OrderedDict[str, Message] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, message: Message) -> str:
        origin = message.queue or message.provider
        handle = base64.urlsafe_b64encode(f"{origin}|{message.id}|{uuid.uuid4().hex}".encode()).decode()
        with self._lock:
            self._messages[handle] = message
            while len(self._messages) > _KEPT:
                self._messages.popitem(last=False)
        return handle

    def message(self, handle: str) -> Message:
        with self._lock:
            found = self._messages.get(handle)
        if found is None:
            raise invalid(
                f'The input receipt handle "{handle}" is not a valid receipt handle.', "ReceiptHandleIsInvalid"
            )
        return found

    def forget(self, handle: str) -> None:
        with self._lock:
            self._messages.pop(handle, None)


@dataclass
class QueueBackend:
    name: str
    url: str
    queue: MessageQueue
    attributes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))
    receipts: Receipts = field(default_factory=Receipts)
    counters: list[Counter] = field(default_factory=list)  # the providers that report approximate counts
    endpoints: list[Any] = field(default_factory=list)  # the queue configs of its providers (none: given)
    owed: WhenBack | None = None  # lifecycle calls a provider that was down still owes

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

"""`MemoryQueue`: a `MessageQueue` in a dict, with SQS's semantics and the cloud adapters' checks."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from failover.adapters._arguments import check_ack, check_batch, check_extend, check_nack, check_receive
from failover.adapters._messages import prepare_send, split_attributes
from failover.adapters.memory.store import PROVIDER
from failover.clock import Clock, SystemClock
from failover.errors import InvalidRequest, NotFound
from failover.interfaces import Message, MessageId, OutgoingMessage, QueueCapabilities, SendResult

__all__ = ["DEFAULT_QUEUE_CAPABILITIES", "MemoryQueue"]

# SQS's limits and defaults, the strictest of the three clouds but for Azure's body size.
DEFAULT_QUEUE_CAPABILITIES = QueueCapabilities(max_message_size=1024 * 1024, max_attributes=10, max_delay=900.0)
DEFAULT_VISIBILITY = 30.0
DEDUP_WINDOW = 300.0  # SQS FIFO drops a repeated dedup id for 5 minutes


@dataclass(slots=True)
class _Entry:
    id: MessageId
    body: bytes
    attributes: dict[str, str]  # as sent: the dedup id included
    visible_at: float
    deliveries: int = 0
    receipt: str | None = None  # the latest receipt; older ones are stale


@dataclass(slots=True)
class _Dedup:
    id: MessageId
    until: float


class MemoryQueue:
    """A `MessageQueue` in a dict, with SQS's semantics.

    Visibility timeouts, delays and delivery counts behave as SQS's do. A receipt is valid until the
    message is acked or delivered again: nack or extend with a stale receipt raise `NotFound`, and
    so does ack while another consumer holds the message; ack of a message already deleted
    succeeds, as on SQS (a retried ack must not fail). With ``capabilities.fifo`` the queue is one
    SQS FIFO message group: nothing is delivered while an earlier message is in flight; with
    ``capabilities.native_dedup`` a repeated dedup id within five minutes is dropped, as SQS FIFO
    does. ``receive(wait=...)`` waits on ``clock``: with the real `SystemClock` a send from another
    thread wakes it; with any other clock it sleeps on that clock until the next message becomes
    visible or the wait ends (a manual clock jumps there at once), so unit tests never sleep.
    """

    def __init__(
        self,
        name: str = "memory",
        *,
        capabilities: QueueCapabilities | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._name = name
        self._capabilities = capabilities or DEFAULT_QUEUE_CAPABILITIES
        self._clock: Clock = clock or SystemClock()
        self._entries: dict[MessageId, _Entry] = {}  # in send order (dicts keep it)
        self._dedup: dict[str, _Dedup] = {}  # oldest first
        self._changed = threading.Condition()

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def capabilities(self) -> QueueCapabilities:
        return self._capabilities

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        checked = prepare_send(
            body,
            attributes=attributes,
            dedup_id=dedup_id,
            delay=delay,
            capabilities=self._capabilities,
            provider=PROVIDER,
            timeout=timeout,
        )
        with self._changed:
            now = self._clock.monotonic()
            dedup = self._capabilities.native_dedup and dedup_id is not None
            if dedup:
                self._forget_dedup_ids(now)
                seen = self._dedup.get(str(dedup_id))
                if seen is not None:
                    return seen.id
            entry = _Entry(uuid.uuid4().hex, bytes(body), checked, now + delay)
            self._entries[entry.id] = entry
            if dedup:
                self._dedup[str(dedup_id)] = _Dedup(entry.id, now + DEDUP_WINDOW)
            self._changed.notify_all()
        return entry.id

    def _forget_dedup_ids(self, now: float) -> None:
        while self._dedup:
            oldest = next(iter(self._dedup))
            if self._dedup[oldest].until > now:
                return
            del self._dedup[oldest]

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        batch = check_batch(messages, timeout)
        if len(batch) > self._capabilities.max_batch:
            raise InvalidRequest(
                f"{PROVIDER} sends at most {self._capabilities.max_batch} messages a batch, not {len(batch)}",
                rule="batch.max_count",
                imposed_by=PROVIDER,
                operation="send_batch",
            )
        results: list[SendResult] = []
        for message in batch:
            try:
                sent = self.send(
                    message.body, attributes=message.attributes, dedup_id=message.dedup_id, delay=message.delay
                )
            except InvalidRequest as exc:
                results.append(SendResult(error=exc))
            else:
                results.append(SendResult(id=sent))
        return results

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        check_receive(max_messages, wait, visibility, timeout, capabilities=self._capabilities, imposed_by="SQS")
        hidden_for = DEFAULT_VISIBILITY if visibility is None else float(visibility)
        with self._changed:
            deadline = self._clock.monotonic() + wait
            while True:
                now = self._clock.monotonic()
                taken = self._take(max_messages, now, hidden_for)
                if taken or now >= deadline:
                    return taken
                pause = min(deadline, self._next_visible(now)) - now
                if isinstance(self._clock, SystemClock):
                    self._changed.wait(pause)
                else:
                    # A clock other than the real one cannot time a Condition wait: sleep on it instead (a
                    # manual clock jumps to the next event at once, so tests never block).
                    self._changed.release()
                    try:
                        self._clock.sleep(pause)
                    finally:
                        self._changed.acquire()

    def _next_visible(self, now: float) -> float:
        return min((entry.visible_at for entry in self._entries.values() if entry.visible_at > now), default=math.inf)

    def _take(self, max_messages: int, now: float, hidden_for: float) -> list[Message]:
        taken: list[Message] = []
        for entry in self._entries.values():
            if len(taken) == max_messages:
                break
            if entry.visible_at > now:
                if self._capabilities.fifo:
                    break  # one message group: an earlier message in flight or delayed blocks the rest
                continue
            entry.deliveries += 1
            entry.receipt = f"{entry.id}:{entry.deliveries}"
            entry.visible_at = now + hidden_for
            user, dedup_id = split_attributes(entry.attributes)
            taken.append(
                Message(
                    body=entry.body,
                    attributes=user,
                    id=entry.id,
                    provider=PROVIDER,
                    receipt=entry.receipt,
                    delivery_count=entry.deliveries,
                    dedup_id=dedup_id,
                    queue=self._name,
                )
            )
        return taken

    def _holder(self, message: Message, operation: str) -> _Entry:
        """The entry ``message`` was delivered as, if its receipt is still the latest; call under the lock."""
        entry = self._entries.get(message.id)
        if entry is None or entry.receipt != message.receipt:
            raise NotFound(
                "the receipt is stale: the message was acked or delivered again",
                provider=PROVIDER,
                operation=operation,
                key=message.id,
            )
        return entry

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        check_ack(message, timeout)
        with self._changed:
            if message.id in self._entries:
                self._holder(message, "ack")
                del self._entries[message.id]
                self._changed.notify_all()  # on a FIFO queue, the messages behind it are free now

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        seconds = check_nack(message, delay, timeout, capabilities=self._capabilities, imposed_by="SQS")
        with self._changed:
            self._holder(message, "nack").visible_at = self._clock.monotonic() + seconds
            self._changed.notify_all()

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        seconds = check_extend(message, visibility, timeout, capabilities=self._capabilities, imposed_by="SQS")
        with self._changed:
            self._holder(message, "extend").visible_at = self._clock.monotonic() + seconds

    def probe(self, *, timeout: float | None = None) -> None:
        """Always reachable: the failover layer's health probe finds nothing to ask."""

    def close(self) -> None:
        pass

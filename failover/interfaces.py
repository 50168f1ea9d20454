"""The two interfaces every adapter and every failover wrapper implements.

One bucket (container) on one provider is one `ObjectStore`; one queue (or topic plus subscription)
is one `MessageQueue`. `FailoverStorage` and `FailoverQueue` implement the same Protocols, so a caller
never knows whether it holds one provider or five.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Literal, Protocol, runtime_checkable

from failover.reader import ObjectReader

__all__ = [
    "Capabilities",
    "CommonPrefix",
    "Data",
    "ListEntry",
    "Message",
    "MessageId",
    "MessageQueue",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStore",
    "OutgoingMessage",
    "QueueCapabilities",
    "SendResult",
]

Data = bytes | bytearray | memoryview | BinaryIO
"""What `ObjectStore.put` accepts: bytes, or a binary file object of any size (read in chunks)."""

MessageId = str
"""The provider's id of a sent message."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows of one object.

    ``etag`` is the provider's opaque token for this version of the object (the S3 and Azure ETag,
    the GCS generation): pass it back as ``if_match``. It differs between providers; ``sha256`` and
    ``version`` (the failover version stamp) do not, and a `FailoverStorage` hands out the version
    stamp as the etag, so that ``if_match`` works whichever store takes the next write. ``provider``
    is the answering store's (``"failover"`` for a `FailoverStorage`, whose ``store`` then names the
    store that answered).
    Entries yielded by `ObjectStore.list` may leave ``metadata``, ``content_type``, ``sha256`` and
    ``version`` empty: listings of most providers do not carry them; call `head` for the full record.
    """

    key: str
    size: int
    provider: str
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    etag: str | None = None
    sha256: str | None = None
    version: str | None = None
    store: str | None = None  # the name of the store that answered, when a FailoverStorage did


@dataclass(frozen=True, slots=True)
class CommonPrefix:
    """A "folder" in a delimited listing: every key under ``prefix`` rolled into one entry."""

    prefix: str


ListEntry = ObjectInfo | CommonPrefix


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one object store can do; the contract suite and the failover layer read these flags
    instead of asking which provider they hold."""

    max_object_size: int
    conditional_create: bool = True
    conditional_update: bool = True
    # Whether preconditions hold for objects large enough to take the chunked upload path.
    conditional_large_writes: bool = True
    server_side_copy: bool = True
    # Whether delete(if_match=...) is enforced by the store. Off unless a store claims it: the
    # replicator then serializes a tombstone with the key's writers in this process instead.
    conditional_delete: bool = False


@runtime_checkable
class ObjectStore(Protocol):
    """One bucket or container on one provider, or several behind a `FailoverStorage`.

    Byte ranges follow Python slicing: ``byte_range=(start, stop)`` returns ``data[start:stop]``,
    ``stop=None`` reads to the end, and a range past the end returns what there is (maybe nothing).
    """

    @property
    def name(self) -> str:
        """A stable name for this endpoint, unique in one configuration (``"aws:s3:bucket"``)."""
        ...

    @property
    def provider(self) -> str:
        """The provider family: ``"aws"``, ``"gcp"``, ``"azure"`` or ``"memory"``."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: Literal["*"] | None = None,
        if_match: str | None = None,
        timeout: float | None = None,
    ) -> ObjectInfo: ...

    def get(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> ObjectReader: ...

    def get_bytes(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> bytes: ...

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo: ...

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        """Delete ``key``; deleting a key that does not exist succeeds.

        ``if_match`` (an ``ObjectInfo.etag`` of this store; stores with ``conditional_delete`` only):
        delete only that version, raise `PreconditionFailed` if the key now holds another.
        """
        ...

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        """Every key under ``prefix`` (paging through any number of them), in no set order."""
        ...

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class QueueCapabilities:
    """What one message queue can do."""

    max_message_size: int  # bytes of body, after any encoding the adapter adds
    max_attributes: int
    max_delay: float  # seconds
    fifo: bool = False
    native_dedup: bool = False
    max_batch: int = 10
    max_visibility: float = 12 * 3600


@dataclass(frozen=True, slots=True)
class Message:
    """One received message. ``receipt`` is opaque: pass the message back to ack, nack, extend."""

    body: bytes
    attributes: Mapping[str, str]
    id: MessageId
    provider: str
    receipt: object = field(repr=False)
    delivery_count: int = 1
    dedup_id: str | None = None
    queue: str = ""  # the name of the queue that delivered it


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one entry of `MessageQueue.send_batch`: an id, or the error it met."""

    id: MessageId | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One entry of `MessageQueue.send_batch`."""

    body: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    dedup_id: str | None = None
    delay: float = 0.0


@runtime_checkable
class MessageQueue(Protocol):
    """One queue (or topic and subscription) on one provider, or several behind a `FailoverQueue`.

    Delivery is at least once: a received message that is not acked within its visibility timeout
    is delivered again, with a higher ``delivery_count``.
    """

    @property
    def name(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def capabilities(self) -> QueueCapabilities: ...

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId: ...

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        """Send several messages; one result per message, in order. A bad entry fails alone."""
        ...

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        """Up to ``max_messages`` messages, waiting at most ``wait`` seconds for the first."""
        ...

    def ack(self, message: Message, *, timeout: float | None = None) -> None: ...

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        """Hand the message back to the queue, visible again after ``delay`` seconds."""
        ...

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        """Keep the message hidden from other consumers for ``visibility`` more seconds."""
        ...

    def close(self) -> None: ...

"""What a `FailoverQueue` promises: the intersection of its queues' capabilities.

A message may land on any of the queues (whichever is up), so it must fit the strictest of them.
The failover layer spends one attribute of its own on every message (the ``failover_id``, carried as
the adapters' dedup id), so the caller gets one fewer than the strictest queue allows. With a
claim-check store, a body too large for the smallest queue goes to the store instead, and the limit
on bodies becomes the store's.

Some queues count attributes and body against one limit (Azure Queue's envelope: base64 body, JSON,
escaped characters): `room` asks every queue how large a body fits beside one message's attributes,
so a message checked against it is taken by whichever queue it fails over to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from failover.adapters._messages import body_room
from failover.interfaces import MessageQueue, ObjectStore, QueueCapabilities

__all__ = ["FAILOVER_ATTRIBUTES", "QueueLimits"]

FAILOVER_ATTRIBUTES = 1
"""Attributes the failover layer adds to every message: its ``failover_id`` (the adapters' dedup id)."""


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """``public``: what callers see as the capabilities; ``send``: what `prepare_send` checks
    (the failover_id counted among the attributes); ``claim_threshold``: the largest body that
    travels inside a message beside failover's own attribute alone (see `room` for a given message's)."""

    public: QueueCapabilities
    send: QueueCapabilities
    claim_threshold: int
    queues: tuple[MessageQueue, ...] = field(default=(), repr=False, compare=False)

    def room(self, attributes: Mapping[str, str]) -> int:
        """The largest body of any bytes every queue takes beside ``attributes`` (the dedup id among them)."""
        return min([self.claim_threshold, *(body_room(queue, attributes) for queue in self.queues)])

    @classmethod
    def of(cls, queues: Sequence[MessageQueue], claim_store: ObjectStore | None) -> QueueLimits:
        every = [queue.capabilities for queue in queues]
        smallest_message = min(caps.max_message_size for caps in every)
        max_body = claim_store.capabilities.max_object_size if claim_store is not None else smallest_message
        # Order is kept, and duplicates dropped natively, only inside one queue: a second queue breaks both.
        single = every[0] if len(every) == 1 else None
        send = QueueCapabilities(
            max_message_size=max_body,
            max_attributes=min(caps.max_attributes for caps in every),
            max_delay=min(caps.max_delay for caps in every),
            fifo=single is not None and single.fifo,
            native_dedup=single is not None and single.native_dedup,
            max_batch=min(caps.max_batch for caps in every),
            max_visibility=min(caps.max_visibility for caps in every),
        )
        public = QueueCapabilities(
            max_message_size=send.max_message_size,
            max_attributes=max(0, send.max_attributes - FAILOVER_ATTRIBUTES),
            max_delay=send.max_delay,
            fifo=send.fifo,
            native_dedup=send.native_dedup,
            max_batch=send.max_batch,
            max_visibility=send.max_visibility,
        )
        return cls(public, send, smallest_message, tuple(queues))

"""Exactly-once processing on the receive side, on top of a `DedupWindow`.

Two records per admitted message: its ``failover_id`` and the copy that carried it (the queue and the
provider's message id). So a later copy of the same id (a re-send after an ambiguous failover) is
dropped, while a redelivery of the copy that was admitted (its consumer crashed before acking, its
visibility ran out) is processed again: a crash never loses a message, it only repeats one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from failover.interfaces import Message
from failover.replication.dedup import DedupWindow

__all__ = ["AdmitsCopies", "ReceiveDedup"]


@runtime_checkable
class AdmitsCopies(Protocol):
    """A window that decides on a copy in one atomic call (both records, or neither): for a window
    whose call may land after its caller gave up on it (a database's), where two calls could leave
    the copy marked admitted and its id not seen, and the message handed on twice."""

    def admit(self, copy: str, failover_id: str) -> bool: ...


def _copy_key(queue: str, message: Message, failover_id: str) -> str:
    # A failover_id is printable ASCII without spaces, so a key with spaces never collides with one.
    return f"{failover_id} {queue} {message.id}"


class ReceiveDedup:
    """Decides, per delivered message, whether it is the one to process."""

    def __init__(self, window: DedupWindow) -> None:
        self.window = window

    def admit(self, queue: str, message: Message) -> bool:
        """Whether to hand ``message`` (as delivered by ``queue``) to the consumer."""
        failover_id = message.dedup_id
        if not failover_id:
            return True  # from a producer that is not failover's: nothing to deduplicate on
        copy = _copy_key(queue, message, failover_id)
        if isinstance(self.window, AdmitsCopies):
            return self.window.admit(copy, failover_id)
        # The copy first: a crash between the two writes then lets this copy through again, never
        # drops it.
        if self.window.seen(copy):
            return True  # a redelivery of the copy admitted before
        if not self.window.seen(failover_id):
            return True  # the first copy of this id
        self.window.forget(copy)  # so that this duplicate, if it comes back, is dropped again
        return False

    def settled(self, queue: str, message: Message) -> None:
        """``message`` was processed, and its ack may not have landed: a redelivery of it is a duplicate."""
        failover_id = message.dedup_id
        if failover_id:
            self.window.forget(_copy_key(queue, message, failover_id))

    def release(self, queue: str, message: Message) -> None:
        """``message`` was not processed (nacked): let the next copy of its id through."""
        failover_id = message.dedup_id
        if failover_id:
            self.window.forget(_copy_key(queue, message, failover_id))
            self.window.forget(failover_id)

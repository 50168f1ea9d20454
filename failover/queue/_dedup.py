"""Exactly-once processing on the receive side, on top of a `DedupWindow`.

With a window that admits copies under a lease (`AdmitsCopies`: SQLite's, the fleet's), a delivered
copy is decided in one atomic call: the first copy of a ``failover_id`` is handed on and held in
flight until its lease ends (the visibility timeout the receive asked for, else ``lease``). The same
copy delivered again meanwhile, to this consumer or any other sharing the window (queues deliver a
message more than once, sometimes at once), is held back: neither handed on nor acked, so it comes
back, and is handed on once the lease has run out (its first consumer died before acking). Another
copy of the id (a re-send after an ambiguous failover) is dropped. Once the message is processed
(`settled`), every copy is dropped. A crash never loses a message, it only repeats one, after the
lease.

With another window (only `seen` and `forget`), two records per admitted message, its id and its
copy, and no lease: a redelivery of the admitted copy is handed on again at once.
"""

from __future__ import annotations

from failover.interfaces import Message
from failover.replication.dedup import Admission, AdmitsCopies, DedupWindow, Verdict

__all__ = ["DEFAULT_DEDUP_LEASE", "Admission", "AdmitsCopies", "ReceiveDedup", "Verdict"]

DEFAULT_DEDUP_LEASE = 30.0
"""Seconds a copy stays in flight when its receive named no visibility timeout (the SQS default)."""

_HAND_ON = Admission(Verdict.HAND_ON)
_DROP = Admission(Verdict.DROP)


def _copy_key(queue: str, message: Message, failover_id: str) -> str:
    # A failover_id is printable ASCII without spaces, so a key with spaces never collides with one.
    return f"{failover_id} {queue} {message.id}"


class ReceiveDedup:
    """Decides, per delivered message, whether it is the one to process."""

    def __init__(self, window: DedupWindow, lease: float = DEFAULT_DEDUP_LEASE) -> None:
        if isinstance(lease, bool) or not isinstance(lease, int | float) or not 0 < lease < float("inf"):
            raise ValueError(f"a lease is a finite number of seconds > 0, not {lease!r}")
        self.window = window
        self.lease = float(lease)

    def admit(self, queue: str, message: Message, visibility: float | None = None) -> Admission:
        """What to do with ``message`` (as delivered by ``queue``, hidden for ``visibility`` seconds)."""
        failover_id = message.dedup_id
        if not failover_id:
            return _HAND_ON  # from a producer that is not failover's: nothing to deduplicate on
        copy = _copy_key(queue, message, failover_id)
        if isinstance(self.window, AdmitsCopies):
            lease = visibility if visibility is not None and visibility > 0 else self.lease
            return self.window.admit(copy, failover_id, lease)
        # The copy first: a crash between the two writes then lets this copy through again, never
        # drops it.
        if self.window.seen(copy):
            return _HAND_ON  # a redelivery of the copy admitted before
        if not self.window.seen(failover_id):
            return _HAND_ON  # the first copy of this id
        self.window.forget(copy)  # so that this duplicate, if it comes back, is dropped again
        return _DROP

    def settled(self, queue: str, message: Message) -> None:
        """``message`` was processed (its ack may not have landed): every later copy is a duplicate."""
        failover_id = message.dedup_id
        if not failover_id:
            return
        if isinstance(self.window, AdmitsCopies):
            self.window.settle(failover_id)
        else:
            self.window.forget(_copy_key(queue, message, failover_id))

    def release(self, queue: str, message: Message) -> None:
        """``message`` was not processed (nacked): let the next copy of its id through."""
        failover_id = message.dedup_id
        if failover_id:
            self.window.forget(_copy_key(queue, message, failover_id))
            self.window.forget(failover_id)

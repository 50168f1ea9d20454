"""Claim-check: bodies too large for the smallest queue travel through an `ObjectStore`.

The bytes go to ``failover-claims/<failover_id>`` in the store before the message is sent; the
message carries a pointer instead of the body: `MARKER` followed by the key. The pointer is in the
body rather than in an attribute, because the adapters accept no ``failover_`` attribute from above
and an attribute would cost the caller one of the few SQS leaves. A caller's body that happens to
begin with the marker takes the claim-check path too, so a delivered body that begins with it is
always a pointer.

`receive` fetches the body; `ack` deletes the object after the message. An object that is gone when
its pointer arrives belonged to a copy that was processed and acked already: the copy is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import re

from failover.errors import FailoverError, InvalidRequest
from failover.interfaces import ObjectStore

__all__ = ["CLAIM_PREFIX", "MARKER", "ClaimCheck"]

logger = logging.getLogger("failover.queue")

MARKER = b"\x00failover-claim\x00"
CLAIM_PREFIX = "failover-claims/"
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")


def claim_key(failover_id: str) -> str:
    """The store key of a message's body: the id itself when it is a safe key segment, else its hash."""
    if _PLAIN_ID.match(failover_id):
        return CLAIM_PREFIX + failover_id
    return CLAIM_PREFIX + "sha256-" + hashlib.sha256(failover_id.encode("utf-8")).hexdigest()


class ClaimCheck:
    """The claim-check path of one `FailoverQueue`; ``store`` None turns it off."""

    def __init__(self, store: ObjectStore | None) -> None:
        self.store = store

    def needed(self, body: bytes, room: int) -> bool:
        """Whether ``body`` goes through the store, when a message has ``room`` bytes for it on every
        queue; raises `InvalidRequest` if it must and cannot."""
        if not body.startswith(MARKER) and len(body) <= room:
            return False
        if self.store is None and not body.startswith(MARKER):
            raise InvalidRequest(
                f"this body ({len(body)} bytes) and its attributes do not fit in a message on every queue of the"
                f" set: {room} bytes of body fit beside these attributes; set a claim_check store, or send less"
                " [message.max_size; failover]",
                rule="message.max_size",
                imposed_by="failover",
                operation="send",
            )
        if self.store is None:
            # Larger bodies were refused by the size check already: only the marker is left.
            raise InvalidRequest(
                "a body may not begin with failover's claim-check marker unless a claim_check store is set"
                " [body.claim_marker; failover]",
                rule="body.claim_marker",
                imposed_by="failover",
                operation="send",
            )
        return True

    def pointer(self, failover_id: str) -> bytes:
        """The longest pointer `put` may return for ``failover_id`` (to check that it fits)."""
        return MARKER + claim_key(failover_id).encode("ascii")

    def put(self, failover_id: str, body: bytes, timeout: float) -> tuple[bytes, str]:
        """Store ``body``; return the pointer to send in its place, and the key."""
        assert self.store is not None
        key = claim_key(failover_id)
        self.store.put(key, body, content_type="application/octet-stream", timeout=timeout)
        return MARKER + key.encode("ascii"), key

    def key_in(self, body: bytes) -> str | None:
        """The key a delivered body points to, or None for an ordinary body."""
        if self.store is None or not body.startswith(MARKER):
            return None
        key = body[len(MARKER) :].decode("ascii", "replace")
        return key if key.startswith(CLAIM_PREFIX) else None

    def fetch(self, key: str, timeout: float | None) -> bytes:
        assert self.store is not None
        return self.store.get_bytes(key, timeout=timeout)

    def discard(self, key: str, timeout: float | None) -> None:
        """Delete a claimed body; a failure is logged, not raised (the message itself is settled)."""
        if self.store is None:
            return
        try:
            self.store.delete(key, timeout=timeout)
        except FailoverError as exc:
            logger.warning("claim-check object %s was not deleted (delete it later): %s", key, exc)

"""Claim-check: bodies too large for some queue of the set travel through an `ObjectStore`.

The bytes go to ``failover-claims/<failover_id>`` in the store before the message is sent; the
message carries a pointer instead of the body: `MARKER`, the key, and where the body was written
(the provider of the store that took it) and its version stamp, one per line. The pointer is in the
body rather than in an attribute, because the adapters accept no ``failover_`` attribute from above
and an attribute would cost the caller one of the few SQS leaves. A caller's body that happens to
begin with the marker takes the claim-check path too, so a delivered body that begins with it is
always a pointer.

`fetch` reads the body from the store; when the store is a `FailoverStorage` (it has ``stores``)
whose journal does not know the write (another process made it), a `NotFound` there is not the
answer: every store of the set is asked, the one the pointer names first. `ack` deletes the object
once the message is acked. A body that no store has (`ClaimMissing`) is not proof that the message
was processed: the receiver leaves the message for redelivery (see `_receive`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from failover.errors import FailoverError, InvalidRequest, NotFound
from failover.interfaces import ObjectStore

__all__ = ["CLAIM_PREFIX", "MARKER", "ClaimCheck", "ClaimMissing", "ClaimRef"]

logger = logging.getLogger("failover.queue")

MARKER = b"\x00failover-claim\x00"
CLAIM_PREFIX = "failover-claims/"
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")
_WHERE = re.compile(r"[!-~]{0,32}\Z")  # a provider family: printable ASCII, no newline
_VERSION = re.compile(r"[!-~]{0,64}\Z")  # a version stamp (``0193b4c2a1f0-000000-w1``)
_LONGEST_POINTER_EXTRA = 2 + 32 + 64  # two newlines, the longest where and version


class ClaimMissing(NotFound):
    """No store holds the body a pointer names (with its version): deleted, or not readable here."""


@dataclass(frozen=True, slots=True)
class ClaimRef:
    """What a pointer says: the key, and where and which version the sender wrote (empty if unknown)."""

    key: str
    where: str = ""
    version: str = ""

    def encode(self) -> bytes:
        return MARKER + "\n".join((self.key, self.where, self.version)).encode("ascii")

    @classmethod
    def decode(cls, body: bytes) -> ClaimRef | None:
        if not body.startswith(MARKER):
            return None
        fields = body[len(MARKER) :].decode("ascii", "replace").split("\n")
        if not fields[0].startswith(CLAIM_PREFIX):
            return None
        where, version = [*fields, "", ""][1:3]
        return cls(fields[0], where, version)


def claim_key(failover_id: str) -> str:
    """The store key of a message's body: the id itself when it is a safe key segment, else its hash."""
    if _PLAIN_ID.match(failover_id):
        return CLAIM_PREFIX + failover_id
    return CLAIM_PREFIX + "sha256-" + hashlib.sha256(failover_id.encode("utf-8")).hexdigest()


def _field(value: str | None, pattern: re.Pattern[str]) -> str:
    return value if value is not None and pattern.match(value) else ""


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

    def payload(self, failover_id: str, body: bytes, room: int, timeout: float) -> tuple[bytes, str | None]:
        """What to send for ``body`` when the message has ``room`` bytes for it on every queue: the
        body itself, or (stored first) its pointer and key. Raises `InvalidRequest` if neither fits."""
        if not self.needed(body, room):
            return body, None
        pointer_size = self.pointer_size(failover_id)
        if pointer_size > room:
            raise InvalidRequest(
                f"these attributes leave {room} bytes for a body on some queue of the set: not even a"
                f" claim-check pointer ({pointer_size} bytes) fits [message.max_size; failover]",
                rule="message.max_size",
                imposed_by="failover",
                operation="send",
            )
        pointer, key = self.put(failover_id, body, timeout)
        return pointer, key

    def pointer_size(self, failover_id: str) -> int:
        """The most bytes `put`'s pointer for ``failover_id`` takes (to check that it fits)."""
        return len(ClaimRef(claim_key(failover_id)).encode()) + _LONGEST_POINTER_EXTRA

    def put(self, failover_id: str, body: bytes, timeout: float) -> tuple[bytes, str]:
        """Store ``body``; return the pointer to send in its place, and the key."""
        assert self.store is not None
        key = claim_key(failover_id)
        info = self.store.put(key, body, content_type="application/octet-stream", timeout=timeout)
        return ClaimRef(key, _field(info.provider, _WHERE), _field(info.version, _VERSION)).encode(), key

    def ref_in(self, body: bytes) -> ClaimRef | None:
        """What a delivered body points to, or None for an ordinary body."""
        return None if self.store is None else ClaimRef.decode(body)

    def fetch(self, ref: ClaimRef, timeout: float | None) -> bytes:
        """The body ``ref`` points to. Raises `ClaimMissing` when no store has it, or the error of a
        store that could not answer (the body may be there: try later)."""
        assert self.store is not None
        try:
            return self.store.get_bytes(ref.key, timeout=timeout)
        except FailoverError as exc:
            first = exc
        stores: Mapping[str, ObjectStore] = getattr(self.store, "stores", {})
        if not isinstance(stores, Mapping) or not stores:
            raise ClaimMissing(str(first), key=ref.key) if isinstance(first, NotFound) else first
        # The store that took the write first: another process's write its journal never saw.
        ordered = sorted(stores.values(), key=lambda store: store.provider != ref.where)
        failure: FailoverError | None = None if isinstance(first, NotFound) else first
        for store in ordered:
            try:
                if ref.version and store.head(ref.key, timeout=timeout).version not in (None, ref.version):
                    continue  # another write under the same key (a reused dedup id), not this message's body
                return store.get_bytes(ref.key, timeout=timeout)
            except NotFound:
                continue
            except FailoverError as exc:
                failure = exc
        if failure is not None:
            raise failure
        raise ClaimMissing(
            f"no store holds {ref.key} (written to {ref.where or '?'}, version {ref.version or '?'})", key=ref.key
        )

    def discard(self, key: str, timeout: float | None) -> None:
        """Delete a claimed body; a failure is logged, not raised (the message itself is settled)."""
        if self.store is None:
            return
        try:
            self.store.delete(key, timeout=timeout)
        except FailoverError as exc:
            logger.warning("claim-check object %s was not deleted (delete it later): %s", key, exc)

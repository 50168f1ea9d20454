"""Bring one version of one key to one store, never replacing a newer version with an older one.

The replicator and `repair` both write through here, so the rules live in one place:

- head the target first: a version there that is newer, or the same stamp with the same sha256, means
  there is nothing to do;
- write (and delete) conditionally where the target can: ``if_match`` its etag when it had an object,
  ``if_none_match="*"`` when it had none, so that a newer write racing ours wins; on
  `PreconditionFailed`, head again and decide again;
- the copy carries the same ``failover_version`` and content type, and the target's own sha256 of
  what it stored must equal the expected one, or the copy does not count;
- bodies stream from the source's reader into the target's put, never whole in memory.

Errors raised by the target propagate (the caller reschedules); a source that fails is skipped for
the next one that has the version.
"""

from __future__ import annotations

import enum
import io
import logging
from collections.abc import Callable, Sequence
from typing import Literal

from failover.adapters._common import VERSION_KEY
from failover.errors import FailoverError, NotFound, PreconditionFailed
from failover.interfaces import ObjectInfo, ObjectStore
from failover.reader import ObjectReader
from failover.replication.stamps import version_order

__all__ = ["CopyOutcome", "apply_tombstone", "copy_version"]

log = logging.getLogger(__name__)

# How many times a racing writer may beat us between our head and our conditional put before the
# item goes back to the journal for later.
_MAX_RACES = 3


class CopyOutcome(enum.Enum):
    COPIED = "copied"
    DELETED = "deleted"
    UP_TO_DATE = "up_to_date"  # the target already holds this version or a newer one
    SUPERSEDED = "superseded"  # no source holds this version any more, one holds a newer one
    SOURCE_MISSING = "source_missing"  # no reachable source holds this version (or a newer one)
    MISMATCH = "mismatch"  # the stored sha256 is not the expected one
    RACED = "raced"  # conditional writes kept losing; try later
    FAILED = "failed"  # the target refused this item (an error of the item's own, not an outage)

    @property
    def done(self) -> bool:
        """Whether the journal item is finished (else it is rescheduled)."""
        return self in (CopyOutcome.COPIED, CopyOutcome.DELETED, CopyOutcome.UP_TO_DATE, CopyOutcome.SUPERSEDED)


def copy_version(
    key: str,
    version: str | None,
    sha256: str,
    *,
    target: ObjectStore,
    sources: Sequence[ObjectStore],
    on_created: Callable[[ObjectInfo], object] | None = None,
) -> CopyOutcome:
    """Make ``target`` hold ``version`` of ``key`` (content ``sha256``), read from the first of
    ``sources`` that has exactly it. ``version`` None copies an object written without a stamp.

    ``on_created(stored)`` is called after a copy onto a target that had no object: no condition
    can tell "never written" from "deleted a moment ago", so the caller checks that no newer write
    of the key (a delete) came meanwhile."""
    for _ in range(_MAX_RACES + 1):
        current = _head(target, key)
        if current is not None and _holds(current, version, sha256):
            return CopyOutcome.UP_TO_DATE
        found = _open_source(key, version, sha256, sources)
        if not isinstance(found, ObjectReader):
            return found
        if_none_match, if_match = _conditions(target, current)
        with found as reader:
            try:
                stored = target.put(
                    key,
                    # A buffered file over the raw reader: the target's put streams it (the upload path
                    # spools a non-seekable body in bounded memory) instead of taking whole bytes.
                    io.BufferedReader(reader),
                    content_type=reader.info.content_type,
                    metadata=_metadata(reader.info, version),
                    if_none_match=if_none_match,
                    if_match=if_match,
                )
            except PreconditionFailed:
                continue  # someone wrote the key since our head: look again
        if stored.sha256 != sha256:
            log.warning("copy of %r %s to %s stored sha256 %s", key, version, target.name, stored.sha256)
            return CopyOutcome.MISMATCH
        if current is None and on_created is not None:
            on_created(stored)
        return CopyOutcome.COPIED
    return CopyOutcome.RACED


def apply_tombstone(key: str, version: str, *, target: ObjectStore) -> CopyOutcome:
    """Delete ``key`` on ``target`` unless the target holds a version newer than the tombstone.

    Where the target can (``capabilities.conditional_delete``), the delete names the etag of the
    version just seen, so a newer version written between this look and the delete is never removed:
    the store refuses the delete, and the target is looked at again. A target that cannot is deleted
    unconditionally; the replicator then holds the key's lock, which keeps this process's writers out.
    """
    conditional = target.capabilities.conditional_delete
    for _ in range(_MAX_RACES + 1):
        current = _head(target, key)
        if current is None or version_order(current.version) >= version:
            return CopyOutcome.UP_TO_DATE
        if not (conditional and current.etag):
            target.delete(key)
            return CopyOutcome.DELETED
        try:
            target.delete(key, if_match=current.etag)
        except PreconditionFailed:
            continue  # someone wrote the key since our head: look again
        return CopyOutcome.DELETED
    return CopyOutcome.RACED


def _head(store: ObjectStore, key: str) -> ObjectInfo | None:
    try:
        return store.head(key)
    except NotFound:
        return None


def _holds(current: ObjectInfo, version: str | None, sha256: str) -> bool:
    """Whether ``current`` needs no copy: newer, or this version with the right content.

    The same stamp with another sha256 is a copy that went wrong; it is overwritten.
    """
    if version_order(current.version) != version_order(version):
        return version_order(current.version) > version_order(version)
    return current.sha256 == sha256


def _open_source(
    key: str, version: str | None, sha256: str, sources: Sequence[ObjectStore]
) -> ObjectReader | CopyOutcome:
    """A reader of exactly ``version`` with content ``sha256``, or why there is none."""
    outcome = CopyOutcome.SOURCE_MISSING
    for source in sources:
        try:
            reader = source.get(key)
        except NotFound:
            continue
        except FailoverError as exc:
            log.info("source %s unusable for %r: %s", source.name, key, exc)
            continue
        info = reader.info
        if info.version == version and info.sha256 == sha256:
            return reader
        reader.close()
        if version_order(info.version) > version_order(version):
            outcome = CopyOutcome.SUPERSEDED
    return outcome


def _metadata(info: ObjectInfo, version: str | None) -> dict[str, str]:
    # ObjectInfo.metadata is the caller's part; the adapter recomputes the sha256 itself.
    metadata = dict(info.metadata)
    if version is not None:
        metadata[VERSION_KEY] = version
    return metadata


def _conditions(target: ObjectStore, current: ObjectInfo | None) -> tuple[Literal["*"] | None, str | None]:
    """``(if_none_match, if_match)`` for the put: as strict as the target can enforce."""
    capabilities = target.capabilities
    if current is None:
        return ("*" if capabilities.conditional_create else None), None
    if current.etag and capabilities.conditional_update:
        return None, current.etag
    return None, None

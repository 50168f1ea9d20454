"""`rekey`: re-encrypt every object under a prefix that is not under the keyring's active key.

The second half of a key rotation: after a new key is made active, new writes use it and old objects
stay readable under their old keys; `rekey` rewrites those old objects (decrypt, encrypt again, put
with ``if_match`` on the ciphertext's etag, so a write that lands meanwhile is never overwritten).
When it reports nothing left under the old key, the old key can leave the keyring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from failover.crypto._format import HEADER_NAME, Header
from failover.crypto.storage import EncryptedStorage
from failover.errors import FailoverError, NotFound, PreconditionFailed
from failover.interfaces import ObjectInfo

__all__ = ["RekeyReport", "rekey"]


@dataclass
class RekeyReport:
    """What one `rekey` pass did, key by key counted."""

    active: str
    scanned: int = 0
    rekeyed: int = 0
    current: int = 0  # already under the active key
    changed: int = 0  # rewritten or deleted by someone else while this pass ran: left as it is now
    plaintext: list[str] = field(default_factory=list)  # objects with no encryption header
    failed: list[str] = field(default_factory=list)  # "key: why"
    by_key: dict[str, int] = field(default_factory=dict)  # old key id -> objects found under it
    dry_run: bool = False


def rekey(
    store: EncryptedStorage,
    prefix: str = "",
    *,
    dry_run: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> RekeyReport:
    """Rewrite under ``store.keyring.active`` each object under ``prefix`` that is under another key."""
    active = store.keyring.active.key_id
    report = RekeyReport(active=active, dry_run=dry_run)
    keys = [entry.key for entry in store.inner.list(prefix) if isinstance(entry, ObjectInfo)]
    for done, key in enumerate(keys, start=1):
        report.scanned += 1
        try:
            _one(store, key, active, report)
        except FailoverError as error:
            report.failed.append(f"{key}: {error}")
        if on_progress is not None:
            on_progress(done, len(keys), key)
    return report


def _one(store: EncryptedStorage, key: str, active: str, report: RekeyReport) -> None:
    try:
        raw = store.inner.head(key)
    except NotFound:
        report.changed += 1
        return
    text = raw.metadata.get(HEADER_NAME)
    if text is None:
        report.plaintext.append(key)
        return
    key_id = Header.decode(text, key=key).key_id
    if key_id == active:
        report.current += 1
        return
    report.by_key[key_id] = report.by_key.get(key_id, 0) + 1
    if report.dry_run:
        return
    try:
        with store.get(key) as reader:
            if reader.info.etag != raw.etag:
                report.changed += 1
                return
            store.put(
                key,
                cast(BinaryIO, reader),
                content_type=reader.info.content_type,
                metadata=reader.info.metadata,
                if_match=raw.etag,
            )
    except (PreconditionFailed, NotFound):
        report.changed += 1
        return
    report.rekeyed += 1

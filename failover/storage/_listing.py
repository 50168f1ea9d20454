"""A store's listing, corrected by the journal for the keys that store has not caught up on.

The journal knows, for every key whose newest version is still pending somewhere, what that version
is (a put, with its size, sha256 and stamp, or a delete) and which stores still lack it. A listing
comes from one store; for the keys pending on that store, the journal's word replaces the store's:
a key deleted there-to-be is left out, a key put there-to-be is listed (with its journaled version)
whether or not the store has it yet. Keys no store is pending for are listed as the store has them.

The journal is read before the listing starts: a write acknowledged after that is concurrent with
the listing, which may or may not show it; a replication that completes meanwhile changes nothing,
since the store then agrees with the journal.

Entries are merged in key order, as the providers list them. With a delimiter, a journaled key in a
"folder" shows as that folder's `CommonPrefix` (each folder once); a folder whose keys were all
deleted but not yet on this store may still be shown (a folder is no key).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from failover.interfaces import CommonPrefix, ListEntry, ObjectInfo
from failover.replication import JournalItem, Op

__all__ = ["overlay"]


def overlay(
    entries: Iterable[ListEntry], items: Iterable[JournalItem], store: str, prefix: str, delimiter: str | None
) -> Iterator[ListEntry]:
    """``entries`` (``store``'s listing of ``prefix``) with the journal's ``items`` for ``store`` applied."""
    pending = {item.key: item for item in items if item.store == store}
    if not pending:
        yield from entries
        return
    additions: list[ListEntry] = []
    for key in sorted(pending):
        item = pending[key]
        if item.op is not Op.PUT:
            continue
        folder = _folder(key, prefix, delimiter)
        if folder is not None:
            additions.append(CommonPrefix(folder))
        else:
            additions.append(
                ObjectInfo(key=key, size=item.size, provider=store, sha256=item.sha256, version=item.version)
            )
    shown: set[str] = set()
    queue = iter(additions)
    next_addition = next(queue, None)
    for entry in entries:
        name = _name(entry)
        while next_addition is not None and _name(next_addition) <= name:
            if _first(next_addition, shown):
                yield next_addition
            next_addition = next(queue, None)
        if isinstance(entry, ObjectInfo) and entry.key in pending:
            continue  # deleted, or listed from the journal with its newest version
        if _first(entry, shown):
            yield entry
    while next_addition is not None:
        if _first(next_addition, shown):
            yield next_addition
        next_addition = next(queue, None)


def _folder(key: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    return None if cut < 0 else key[: cut + len(delimiter)]


def _name(entry: ListEntry) -> str:
    return entry.key if isinstance(entry, ObjectInfo) else entry.prefix


def _first(entry: ListEntry, shown: set[str]) -> bool:
    """Whether ``entry`` is not a folder already yielded (a folder may come from both sides)."""
    if isinstance(entry, ObjectInfo):
        return True
    if entry.prefix in shown:
        return False
    shown.add(entry.prefix)
    return True

"""Anti-entropy: compare every store under a prefix and copy the newest version where it is missing.

The journal carries every write the library acknowledged, but not what happened outside it: a store
restored from a backup, a journal lost with its disk, a bucket added to the configuration. `repair`
lists each store, compares key, version stamp and sha256 (never provider ETags, which differ between
clouds), and copies the newest version to every store that lacks it or holds an older one, through
`copy_version`, with the replicator's safe-write rules. Two copies with the same stamp and different
contents are a conflict: reported, never guessed at.

A key the journal still has pending is left to the replicator. Deletes leave nothing to compare: a key
deleted on some stores after its tombstone left the journal is copied back, so run `repair` with the
journal drained (it is the replicator's job to spread deletes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from failover.errors import FailoverError, NotFound
from failover.interfaces import CommonPrefix, ObjectInfo, ObjectStore
from failover.replication.copy import CopyOutcome, copy_version
from failover.replication.journal import Journal
from failover.replication.stamps import version_order

__all__ = ["RepairAction", "RepairConflict", "RepairReport", "repair"]

RepairProgress = Callable[[int, int, str], None]
"""Called after each key with (keys done, keys left, key)."""


@dataclass(frozen=True, slots=True)
class RepairAction:
    """One copy `repair` made (or, in a dry run, would make)."""

    key: str
    version: str | None
    sha256: str
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class RepairConflict:
    """The newest copies of a key disagree, or cannot be compared; ``sha256`` maps store to checksum."""

    key: str
    version: str | None
    sha256: Mapping[str, str | None]
    reason: str


@dataclass(slots=True)
class RepairReport:
    dry_run: bool
    scanned: int = 0  # distinct keys seen on any store
    in_sync: int = 0  # keys every reachable store holds at the newest version
    copied: int = 0  # copies made; in a dry run, copies that would be made
    pending: int = 0  # keys left to the replicator: the journal still has them pending
    conflicts: list[RepairConflict] = field(default_factory=list)
    actions: list[RepairAction] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # copies that did not happen, and why
    unreachable: list[str] = field(default_factory=list)  # stores skipped: down, or their listing failed


def _no_progress(done: int, remaining: int, key: str) -> None:
    pass


def repair(
    stores: Mapping[str, ObjectStore],
    prefix: str = "",
    *,
    dry_run: bool = False,
    on_progress: RepairProgress | None = None,
    journal: Journal | None = None,
    is_available: Callable[[str], bool] | None = None,
) -> RepairReport:
    """Bring every reachable store to the newest version of each key under ``prefix``."""
    report = RepairReport(dry_run=dry_run)
    progress = on_progress or _no_progress
    views: dict[str, dict[str, ObjectInfo]] = {}
    for name, store in stores.items():
        if is_available is not None and not is_available(name):
            report.unreachable.append(name)
            continue
        try:
            views[name] = _scan(store, prefix)
        except FailoverError:
            report.unreachable.append(name)
    keys = sorted({key for view in views.values() for key in view})
    for done, key in enumerate(keys, start=1):
        report.scanned += 1
        _repair_key(key, stores, views, report, journal)
        progress(done, len(keys) - done, key)
    return report


def _scan(store: ObjectStore, prefix: str) -> dict[str, ObjectInfo]:
    """Key to full record; listings without the stamp or checksum are completed by a head."""
    view: dict[str, ObjectInfo] = {}
    for entry in store.list(prefix):
        if isinstance(entry, CommonPrefix):
            continue
        if entry.version is None or entry.sha256 is None:
            try:
                entry = store.head(entry.key)
            except NotFound:
                continue  # deleted since the listing
        view[entry.key] = entry
    return view


def _repair_key(
    key: str,
    stores: Mapping[str, ObjectStore],
    views: Mapping[str, Mapping[str, ObjectInfo]],
    report: RepairReport,
    journal: Journal | None,
) -> None:
    present = {name: view[key] for name, view in views.items() if key in view}
    newest_order = max(version_order(info.version) for info in present.values())
    newest = {name: info for name, info in present.items() if version_order(info.version) == newest_order}
    version = next(iter(newest.values())).version
    checksums = {name: info.sha256 for name, info in newest.items()}
    if len(set(checksums.values())) > 1 or None in checksums.values():
        reason = "no failover_sha256 to compare" if None in checksums.values() else "same version, different sha256"
        report.conflicts.append(RepairConflict(key, version, checksums, reason))
        return
    if journal is not None and journal.newest_pending(key):
        report.pending += 1
        return
    stale = [name for name in views if name not in newest]
    if not stale:
        report.in_sync += 1
        return
    sha256 = next(iter(checksums.values()))
    assert sha256 is not None  # a None checksum was reported as a conflict above
    sources = list(newest)
    for target in stale:
        action = RepairAction(key, version, sha256, sources[0], target)
        if report.dry_run:
            report.actions.append(action)
            report.copied += 1
            continue
        _copy(action, stores[target], [stores[name] for name in sources], report)


def _copy(action: RepairAction, target: ObjectStore, sources: Iterable[ObjectStore], report: RepairReport) -> None:
    try:
        outcome = copy_version(action.key, action.version, action.sha256, target=target, sources=list(sources))
    except FailoverError as exc:
        report.failed.append(f"{action.key} -> {action.target}: {type(exc).__name__}: {exc}")
        return
    if outcome is CopyOutcome.COPIED:
        report.actions.append(action)
        report.copied += 1
    elif not outcome.done:
        report.failed.append(f"{action.key} -> {action.target}: {outcome.value}")
    # UP_TO_DATE or SUPERSEDED: a write reached the target since the scan; nothing left to do.

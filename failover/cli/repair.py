"""``failover repair``: compare every configured store under a prefix and copy the newest versions.

`failover.replication.repair` does the work (key, version stamp and sha256 compared; provider ETags
never); this command builds the stores, shows a progress bar over the keys, and prints the report.
With ``--journal``, keys the journal still has pending are left to the replicator. Exit code 1 if a
copy failed, a key is in conflict, or a store could not be listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from failover.cli._build import open_stores
from failover.cli._console import make_progress
from failover.config import load_config
from failover.errors import ConfigError
from failover.replication import RepairReport, SqliteJournal, repair

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["run_repair"]

SHOWN = 50  # copies listed one by one; the rest are counted


def run_repair(config_path: Path, prefix: str, console: Console, *, dry_run: bool, journal: Path | None) -> int:
    config = load_config(config_path)
    if not config.stores:
        raise ConfigError(f"{config_path} configures no storage", field="storage")
    if journal is not None and not journal.is_file():
        raise ConfigError(f"no journal at {journal}", field="journal")
    progress = make_progress(console)
    task = progress.add_task("listing the stores", total=None)

    def advance(done: int, remaining: int, key: str) -> None:
        progress.update(task, completed=done, total=done + remaining, description="comparing keys")

    opened = SqliteJournal(journal) if journal is not None else None
    try:
        with open_stores(list(config.stores.values())) as stores, progress:
            report = repair(stores, prefix, dry_run=dry_run, on_progress=advance, journal=opened)
            names = list(stores)
    finally:
        if opened is not None:
            opened.close()
    _print(console, report, prefix, names)
    return 1 if report.failed or report.conflicts or report.unreachable else 0


def _print(console: Console, report: RepairReport, prefix: str, stores: list[str]) -> None:
    from rich.table import Table

    mode = "dry run: nothing copied" if report.dry_run else "copies made"
    console.print(f"repair of prefix {prefix!r} over {', '.join(stores)} ({mode})", markup=False, highlight=False)
    verb = "would copy" if report.dry_run else "copied"
    console.print(
        f"scanned {report.scanned} keys: {report.in_sync} in sync, {verb} {report.copied}, "
        f"{report.pending} left to the replicator, {len(report.conflicts)} conflicts, "
        f"{len(report.failed)} failed, {len(report.unreachable)} stores unreachable",
        markup=False,
        highlight=False,
    )
    if report.actions:
        table = Table(title=f"{verb} (newest version, from -> to)")
        for column in ("key", "version", "from", "to"):
            table.add_column(column)
        for action in report.actions[:SHOWN]:
            table.add_row(action.key, action.version or "", action.source, action.target)
        console.print(table)
        if len(report.actions) > SHOWN:
            console.print(f"... and {len(report.actions) - SHOWN} more", highlight=False)
    for conflict in report.conflicts:
        console.print(f"conflict: {conflict.key} {conflict.version}: {conflict.reason}", markup=False, highlight=False)
    for failure in report.failed:
        console.print(f"failed: {failure}", markup=False, highlight=False)
    for store in report.unreachable:
        console.print(f"unreachable: {store}", markup=False, highlight=False)

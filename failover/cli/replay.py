"""``failover replay``: copy every version the journal has pending to the stores that miss it.

The stores are the configuration's, named as the writers named them (``name``, else kind:bucket),
which is how the journal refers to them. The replay is `FailoverStorage.drain`: oldest version first,
never an older version over a newer one, and a store that is down is skipped, not hammered (what it
misses stays in the journal for the next replay). Without ``--journal``, the fleet's journal when
the configuration has a ``[fleet]`` table, else the default journal of the configured stores (see
`failover.replication.state`). Items the replicator gave up on (dead
letters) are listed; ``--retry-dead`` makes them pending again first. Exit code 1 if anything is left
pending or dead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from failover.cli._console import make_progress
from failover.cli._journal import print_dead_letters
from failover.config import load_config
from failover.errors import ConfigError
from failover.storage import FailoverStorage

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["run_replay"]


def _counts(backlog: dict[str, int]) -> str:
    return ", ".join(f"{store} {count}" for store, count in sorted(backlog.items())) or "nothing"


def run_replay(
    config_path: Path, journal_path: Path | None, console: Console, *, timeout: float, retry_dead: bool = False
) -> int:
    config = load_config(config_path)
    if journal_path is not None and not journal_path.is_file():
        raise ConfigError(f"no journal at {journal_path}", field="journal")
    progress = make_progress(console)
    task = progress.add_task("replaying", total=None)

    def advance(done: int, remaining: int, store: str) -> None:
        progress.update(task, advance=1, description=f"replaying (last: {store})")

    with FailoverStorage.from_config(config, journal=journal_path, replicate=False, on_progress=advance) as storage:
        if retry_dead:
            console.print(f"{storage.journal.revive()} dead letters made pending again", highlight=False)
        before = storage.journal.backlog()
        unknown = {store: count for store, count in before.items() if store not in storage.stores}
        total = sum(count for store, count in before.items() if store in storage.stores)
        label = str(journal_path) if journal_path is not None else str(getattr(storage.journal, "path", "default"))
        if journal_path is None and config.fleet is not None:
            label = f"of the fleet (schema {config.fleet.schema_name})"
        console.print(f"journal {label}: {total} copies pending ({_counts(before)})", highlight=False)
        progress.update(task, total=total)
        with progress:
            stats = storage.drain(timeout=timeout)
        left = storage.journal.backlog()
        dead = print_dead_letters(storage.journal, console)
    console.print(
        f"copied {stats.copied}, deleted {stats.deleted}, already up to date {stats.up_to_date}, "
        f"superseded {stats.superseded}, failed and rescheduled {stats.rescheduled}",
        highlight=False,
    )
    for error in stats.errors[:10]:
        console.print(f"  error: {error}", markup=False, highlight=False)
    if unknown:
        console.print(
            f"the journal names stores the configuration does not: {_counts(unknown)}", markup=False, highlight=False
        )
    if left:
        console.print(f"left pending: {_counts(left)}", markup=False, highlight=False)
        return 1
    if dead:
        return 1
    console.print("the journal is empty: every store has every version", highlight=False)
    return 0

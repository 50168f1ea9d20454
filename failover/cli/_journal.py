"""What `status` and `replay` print about a journal: the backlog per store and the dead letters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.replication import Journal

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["print_dead_letters", "print_journal"]

SHOWN = 10


def _counts(backlog: dict[str, int]) -> str:
    return ", ".join(f"{store} {count}" for store, count in sorted(backlog.items())) or "nothing"


def print_dead_letters(journal: Journal, console: Console) -> int:
    """List the dead letters (up to `SHOWN`); how many there are, at least."""
    dead = journal.dead_letters(limit=SHOWN + 1)
    if not dead:
        return 0
    more = "+" if len(dead) > SHOWN else ""
    console.print(
        f"dead letters: {min(len(dead), SHOWN)}{more} items given up on "
        "(`failover replay --retry-dead` tries them again):",
        markup=False,
        highlight=False,
    )
    for item in dead[:SHOWN]:
        console.print(
            f"  {item.store} {item.op.value} {item.key!r} {item.version}: {item.attempts} attempts, "
            f"last error {item.last_error}",
            markup=False,
            highlight=False,
        )
    return len(dead)


def print_journal(journal: Journal, label: str, console: Console) -> int:
    """The backlog per store, then the dead letters; returns how many dead letters there are."""
    console.print(f"journal {label}: pending {_counts(journal.backlog())}", markup=False, highlight=False)
    return print_dead_letters(journal, console)

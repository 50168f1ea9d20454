"""What every command prints with: a rich console that reads well in a terminal, a pipe or a CI log."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["PLAIN_WIDTH", "make_console", "make_progress"]

PLAIN_WIDTH = 120
"""Columns when the output is not a terminal: a log or a pipe has room, and 80 would cut error reasons."""


def make_console() -> Console:
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=PLAIN_WIDTH)
    return console


def make_progress(console: Console) -> Progress:
    """A progress bar; on a console that is not a terminal, rich prints its final state once."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )

"""Each scenario's headline figures against their goals: what the README's summary table is made of.

A scenario script puts ``"headlines": [asdict(Headline(...)), ...]`` in its JSON; `benchmarks.summary`
reads them from every result file and writes the README's table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Headline", "headline_rows", "headlines_markdown", "verdict"]


@dataclass(frozen=True)
class Headline:
    scenario: str
    figure: str  # what was measured, in a few words
    measured: str  # the figure, formatted, with its unit
    goal: str  # the goal, as the issue states it ("" when the figure has none: a comparison)
    met: bool | None  # None: no goal to meet, or not measurable here


def verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "NOT met")


def headline_rows(headlines: Sequence[Headline]) -> list[dict[str, Any]]:
    return [asdict(headline) for headline in headlines]


def headlines_markdown(headlines: Sequence[Headline]) -> str:
    lines = ["| figure | measured | goal | |", "|---|---|---|---|"]
    lines += [f"| {h.figure} | {h.measured} | {h.goal or '-'} | {verdict(h.met)} |" for h in headlines]
    return "\n".join(lines)

"""The README's benchmark summary: every scenario's headline figures against their goals, from the results.

``python -m benchmarks.summary`` rewrites the table between the README's markers from the JSON in
``benchmarks/results/``; ``--check`` only says whether the README is in step (exit status 1 if not).
`python -m benchmarks` runs it after a full run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS
from benchmarks._goals import verdict

__all__ = ["BEGIN", "END", "ORDER", "README", "render", "update"]

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- benchmark-summary:begin (python -m benchmarks.summary writes this table) -->"
END = "<!-- benchmark-summary:end -->"
ORDER = ("brownout", "replication_lag", "drain", "queues", "retry_load", "scale", "peers")


def _results(results: Path) -> list[dict[str, Any]]:
    found = []
    for name in ORDER:
        path = results / f"{name}.json"
        if path.is_file():
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if data.get("headlines"):
                found.append(data)
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: Path = RESULTS) -> str:
    """The markdown between the markers (without them)."""
    runs = _results(results)
    if not runs:
        return "No scenario results yet: run `make bench`."
    lines = ["| scenario | figure | measured | goal | |", "|---|---|---|---|---|"]
    for data in runs:
        for h in data["headlines"]:
            lines.append(
                f"| {h['scenario']} | {_cell(h['figure'])} | {_cell(h['measured'])} | {_cell(h['goal'] or '-')} "
                f"| {verdict(h['met'])} |"
            )
    environments = [data["environment"] for data in runs]
    dates = sorted(env["date"][:10] for env in environments)
    first = environments[0]
    machines = sorted({f"{env['cpu_count']} CPUs, {env['platform']}" for env in environments})
    quick = [data["benchmark"] for data in runs if data.get("quick")]
    loads = [env["load_average_1_5_15"][0] for env in environments]
    when = f"on {dates[0]}" if dates[0] == dates[-1] else f"between {dates[0]} and {dates[-1]}"
    machine = (
        f"Ran on {'; '.join(machines)}, Python {first['python']}, {when}, on local "
        f"emulators (moto, fake-gcs-server, Azurite), a machine shared with other jobs (1-minute load average "
        f"{min(loads):.1f} to {max(loads):.1f} when the scripts started). Each figure's details and raw numbers: "
        f"`benchmarks/results/<scenario>.md` and `.json`."
    )
    if quick:
        machine += f" At the smoke size (--quick), not a measurement: {', '.join(quick)}."
    return "\n".join(lines) + "\n\n" + machine


def replace_block(text: str, block: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + block + "\n" + text[end:]


def update(readme: Path = README, results: Path = RESULTS) -> bool:
    """Rewrite the README's table; True if it changed."""
    text = readme.read_text(encoding="utf-8")
    new = replace_block(text, render(results))
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "summary")
    parser.add_argument("--check", action="store_true", help="only check that the README is in step")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    if args.check:
        text = args.readme.read_text(encoding="utf-8")
        if replace_block(text, render(args.results)) != text:
            print("README.md's benchmark summary is out of date: python -m benchmarks.summary", file=sys.stderr)
            return 1
        return 0
    changed = update(args.readme, args.results)
    print(f"{args.readme}: summary {'rewritten' if changed else 'already in step'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

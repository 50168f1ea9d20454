"""``python -m benchmarks [--quick] [--out DIR]``: every benchmark, one after the other.

Each also runs alone (``python -m benchmarks.overhead``); the arguments are passed to each as given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from benchmarks import compat, encryption, fleet, outage, overhead, telemetry
from benchmarks._common import say

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "overhead": overhead.main,
    "outage": outage.main,
    "encryption": encryption.main,
    "fleet": fleet.main,
    "compat": compat.main,
    "telemetry": telemetry.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    failed = []
    for name, run in BENCHMARKS.items():
        say(f"== {name}")
        if run(arguments) != 0:
            failed.append(name)
    if failed:
        say(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m benchmarks [--quick] [--out DIR]``: every benchmark, one after the other.

Each also runs alone (``python -m benchmarks.overhead``); the arguments are passed to each as given.
A full run into ``benchmarks/results/`` then rewrites the README's summary table (`benchmarks.summary`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from benchmarks import (
    brownout,
    compat,
    drain,
    encryption,
    fleet,
    outage,
    overhead,
    peers,
    queues,
    replication_lag,
    retry_load,
    scale,
    summary,
    telemetry,
)
from benchmarks._common import RESULTS, parse_options, say

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "overhead": overhead.main,
    "outage": outage.main,
    "encryption": encryption.main,
    "fleet": fleet.main,
    "compat": compat.main,
    "telemetry": telemetry.main,
    "brownout": brownout.main,
    "replication_lag": replication_lag.main,
    "drain": drain.main,
    "queues": queues.main,
    "retry_load": retry_load.main,
    "scale": scale.main,
    "peers": peers.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    failed = []
    for name, run in BENCHMARKS.items():
        say(f"== {name}")
        if run(arguments) != 0:
            failed.append(name)
    options = parse_options("every benchmark", arguments)
    if not options.quick and options.out.resolve() == RESULTS.resolve():
        summary.update()
    if failed:
        say(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

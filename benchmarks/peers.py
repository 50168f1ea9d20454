"""Peers: the outage scenario with NVIDIA's multi-storage-client (a GCS replica) beside the boto3 baselines.

The workload, faults and counting of `benchmarks.outage` (gets and puts of 1 KiB; AWS refused, its
name unresolvable, or hung, from operation ``fault_at`` on, never healing), at a smaller size so that
``make bench`` stays short, for four contenders in one run: boto3 with its defaults; boto3 + tenacity
+ a GCS fallback; multi-storage-client with S3 as the source and GCS as its read replica
(`benchmarks._msc_client`); and FailoverStorage. multi-storage-client comes with the ``bench``
extra (``pip install -e '.[bench]'``); without it the run says so and writes nothing.

A stale read is a get that returned something other than the last acknowledged put of its key.

``python -m benchmarks.peers [--quick] [--out DIR]`` writes peers.json, peers.md and peers.png.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

from benchmarks._common import environment, local_clouds, markdown_table, parse_options, say, write_results
from benchmarks._goals import Headline, headline_rows, headlines_markdown
from benchmarks._msc_client import MSC
from benchmarks._outage_clients import BOTO3, FAILOVER, TENACITY
from benchmarks._outage_report import plot
from benchmarks.outage import FULL as OUTAGE_FULL
from benchmarks.outage import QUICK as OUTAGE_QUICK
from benchmarks.outage import SCENARIOS, Bench, ConnectCounter, OutageSize, run_one, summary, workload
from failover.testing.faults import DnsFaults

__all__ = ["CONTENDERS", "main"]

NAME = "peers"
CONTENDERS = (BOTO3, TENACITY, MSC, FAILOVER)
FULL = replace(OUTAGE_FULL, operations=160, fault_at=40, fault_budget=15.0, join_limit=10.0)
QUICK = replace(OUTAGE_QUICK, operations=24, fault_at=8, fault_budget=2.0, join_limit=3.0)
FULL_SCENARIOS = SCENARIOS
QUICK_SCENARIOS = ("refused",)


def headlines(runs: list[dict[str, Any]]) -> list[Headline]:
    out = []
    for scenario in SCENARIOS:
        by = {run["contender"]: run for run in runs if run["scenario"] == scenario}
        cells = []
        for name in CONTENDERS:
            run = by.get(name)
            if run is None:
                continue
            failed = run["failed_during_fault"] + (1 if run["unfinished_at_cap"] else 0)
            p99 = run["latency_ms"]["fault"]["p99"]
            kinds = f" ({', '.join(sorted(run['errors']))})" if run["errors"] else ""
            cells.append(
                f"{name}: {failed}/{run['fault_operations_measured']} failed{kinds}, {run['stale_reads']} stale, "
                f"p99 {p99:,.0f} ms"
            )
        if not by:
            continue
        out.append(
            Headline(
                "peers (outage)",
                f"AWS {scenario}, never healing: calls failed / stale reads / p99 during the fault",
                "; ".join(cells),
                "",
                None,
            )
        )
    return out


def markdown(data: dict[str, Any]) -> str:
    env, size = data["environment"], data["parameters"]
    rows = []
    for run in data["runs"]:
        fault = run["latency_ms"]["fault"]
        rows.append(
            [
                run["scenario"],
                run["contender"],
                f"{run['fault_operations_measured']}{' (capped)' if run['capped'] else ''}",
                run["failed_during_fault"] + (1 if run["unfinished_at_cap"] else 0),
                run["stale_reads"],
                fault["p50"],
                fault["p99"],
                fault["max"],
                run["aws_calls_after_fault"],
            ]
        )
    table = markdown_table(
        ["fault", "client", "calls in fault", "failed", "stale reads", "p50 ms", "p99 ms", "max ms", "AWS calls"],
        rows,
    )
    return "\n\n".join(
        [
            "# Peers: the outage scenario with multi-storage-client beside the boto3 baselines",
            f"{env['date']}, {env['cpu_count']} CPUs, Python {env['python']}, load {env['load_average_1_5_15']}, "
            f"multi-storage-client {env['packages'].get('multi-storage-client', '?')}, whole run "
            f"{data['wall_clock_s']:.0f} s. {size['operations']} operations ({size['get_share']:.0%} gets, 1 KiB "
            f"puts, {size['keys']} keys); AWS fails before operation {size['fault_at']} and never heals; at most "
            f"{size['fault_budget']:g} s of each fault phase measured (a call unfinished at the cap counts as failed).",
            table,
            headlines_markdown([Headline(**row) for row in data["headlines"]]),
            "multi-storage-client's replicas are read replicas: reads ask the replica first and fall back to the "
            "source, writes go to the source only. So its reads keep working through the outage, from GCS, but "
            "every put made since the replica was filled is missing there: its reads return the older copy "
            "(stale), before the fault as during it, and its puts fail (or wait out boto3's retries) while AWS "
            "is down. FailoverStorage writes elsewhere during the outage and never returns a copy older than an "
            "acknowledged write (a read that could only be stale raises `StaleReadRisk`, counted as failed).",
            "![latency per call, by scenario](peers.png)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__.splitlines()[0] if __doc__ else NAME, argv)
    if importlib.util.find_spec("multistorageclient") is None:
        say("peers: multi-storage-client is not installed; install the bench extra: pip install -e '.[bench]'")
        return 1
    size: OutageSize = QUICK if options.quick else FULL
    scenarios = QUICK_SCENARIOS if options.quick else FULL_SCENARIOS
    env = environment()
    from importlib import metadata

    env["packages"]["multi-storage-client"] = metadata.version("multi-storage-client")
    ops = workload(size)
    runs = []
    started = time.perf_counter()
    with local_clouds() as clouds, DnsFaults() as dns:
        bench = Bench(clouds, dns, ConnectCounter(), size, ops)
        for scenario in scenarios:
            for contender in CONTENDERS:
                say(f"peers: {scenario} / {contender}")
                runs.append(run_one(bench, scenario, contender))
    summaries = [summary(run, size) for run in runs]
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": options.quick,
        "parameters": {**asdict(size), "scenarios": list(scenarios), "contenders": list(CONTENDERS), "heals": False},
        "environment": env,
        "wall_clock_s": round(time.perf_counter() - started, 1),
        "runs": summaries,
        "headlines": headline_rows(headlines(summaries)),
    }
    options.out.mkdir(parents=True, exist_ok=True)
    image = options.out / f"{NAME}.png"
    plot(data, image)
    for path in [*write_results(options.out, NAME, data, markdown(data)), image]:
        say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

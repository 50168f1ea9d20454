"""The outage benchmark's markdown and plot, from its JSON data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, pyplot
from benchmarks._outage_clients import BOTO3, CONTENDERS, FAILOVER, TENACITY

__all__ = ["markdown", "plot"]

_KIND = {"connects": "connect", "lookups_refused": "lookup", "requests_seen": "request"}


def _calls(run: dict[str, Any]) -> str:
    count = run["aws_calls_after_fault"]
    return f"{count} {_KIND[run['aws_calls_counted_as']]}{'' if count == 1 else 's'}"


_COLORS = {BOTO3: "tab:red", TENACITY: "tab:orange", FAILOVER: "tab:blue"}
_TITLES = {
    "refused": "AWS refused (connection refused)",
    "dns": "AWS DNS failure (the endpoint's name stops resolving)",
    "hang": "AWS hung (accepts, never answers)",
}


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:,.1f} s" if value >= 1000 else f"{value:,.1f} ms"


def _failed(run: dict[str, Any]) -> str:
    text = str(run["failed_during_fault"])
    unfinished = run["unfinished_at_cap"]
    if unfinished is not None:
        text += f" + 1 unfinished ({unfinished['seconds_so_far']:.1f} s+)"
    return text


def _describe(run: dict[str, Any], budget: float) -> str:
    fault = run["latency_ms"]["fault"]
    errors = ", ".join(f"{count} {name}" for name, count in run["errors"].items())
    text = (
        f"failed {_failed(run)} of the {run['fault_operations_measured']} calls measured during the fault"
        + (f" ({errors})" if errors else "")
        + ", "
        f"with {run['stale_reads']} stale reads, p50 {_ms(fault['p50'])} and p99 {_ms(fault['p99'])} a call, "
        f"and sent AWS {_calls(run)} "
        f"in {run['fault_phase_s']:.1f} s"
    )
    return text + (f" (capped at {budget:.0f} s)" if run["capped"] else "")


def markdown(data: dict[str, Any]) -> str:
    parameters, env = data["parameters"], data["environment"]
    budget = float(parameters["fault_budget"])
    runs: list[dict[str, Any]] = data["runs"]
    rows = [
        [
            run["scenario"],
            run["contender"],
            f"{run['operations_measured']} ({run['fault_operations_measured']})" + (" capped" if run["capped"] else ""),
            _failed(run),
            run["stale_reads"],
            _calls(run),
            f"{_ms(run['latency_ms']['all']['p50'])} / {_ms(run['latency_ms']['all']['p99'])}",
            " / ".join(_ms(run["latency_ms"]["fault"][q]) for q in ("p50", "p99", "max")),
            run["total_s"],
        ]
        for run in runs
    ]
    table = markdown_table(
        [
            "scenario",
            "contender",
            "calls measured (during fault)",
            "failed during fault",
            "stale reads",
            "calls to AWS after the fault began",
            "p50 / p99, all",
            "p50 / p99 / max, during fault",
            "total s",
        ],
        rows,
    )
    setup = (
        f"A seeded workload of {parameters['operations']} calls ({parameters['gets']} gets, {parameters['puts']} puts "
        f"of {parameters['object_size']} B objects over {parameters['keys']} keys, each key written before the run, to "
        "both clouds where the contender uses both) against S3 on moto behind a `FaultProxy`, with GCS on "
        f"fake-gcs-server as the alternative. AWS fails before call {parameters['fault_at']} and does not heal. Per "
        f"contender and scenario at most {budget:.0f} s of the fault phase is measured: a call still running then is "
        "counted as unfinished with its time so far, and nothing is extrapolated. Calls to AWS after the fault began "
        "are counted where the fault can see them: refused connects by a `sys.audit` hook on `socket.connect` (the "
        "kernel refuses them, the proxy never sees them), failed lookups by `DnsFaults.refused`, hung requests by "
        "`FaultProxy.stats`. In the DNS scenario the open keep-alive connections are cut when the name stops "
        "resolving; otherwise pooled connections would keep working. A stale read returned a value older than the "
        f"last acknowledged put of its key. Contenders: *{BOTO3}* (retry mode standard, 3 attempts, 60 s connect and "
        f"read timeouts; only path-style addressing set); *{TENACITY}* (each call in "
        "`Retrying(stop=stop_after_attempt(3), wait=wait_exponential(max=10))`, then the same call on GCS with "
        f"google-cloud-storage's defaults); *{FAILOVER}* (`FailoverStorage([S3Store, GcsStore])`, default settings and "
        "journal, replication on)."
    )
    return "\n\n".join(
        [
            "# Outage: AWS fails in the middle of a workload",
            f"{env['date']}, {env['cpu_count']} CPUs, Python {env['python']}, whole run "
            f"{data['wall_clock_s']:.0f} s. Raw numbers, per-call timelines and package versions: `outage.json`; "
            f"latency over the calls: `outage.png`.",
            setup,
            table,
            _reading(runs, parameters, env["packages"].get("botocore", "")),
            "![latency per call, by scenario](outage.png)",
        ]
    )


def _reading(runs: list[dict[str, Any]], parameters: dict[str, Any], botocore: str) -> str:
    budget = float(parameters["fault_budget"])
    sentences = []
    for scenario in _TITLES:
        by_contender = {run["contender"]: run for run in runs if run["scenario"] == scenario}
        parts = [f"{name} {_describe(by_contender[name], budget)}" for name in CONTENDERS if name in by_contender]
        sentences.append(f"**{scenario}**: " + "; ".join(parts) + ".")
    find = {(run["scenario"], run["contender"]): run for run in runs}
    bare = find.get(("refused", BOTO3))
    if bare is not None and 0 < bare["fault_operations_measured"] < bare["aws_calls_after_fault"]:
        retries = bare["aws_calls_after_fault"] - bare["fault_operations_measured"]
        if retries < bare["fault_operations_measured"]:
            sentences.append(
                f"boto3's {bare['fault_operations_measured']} calls against the refused endpoint made {retries} "
                f"retries in all, not two each: botocore {botocore}'s standard retry quota (500 tokens, 14 a retry) "
                f"ran dry after the first calls, and every later call failed at its first attempt, at once. Without "
                f"a fallback, each of them is a failed call for the application."
            )
    hung = find.get(("hang", BOTO3))
    if hung is not None and hung["unfinished_at_cap"] is not None:
        sentences.append(
            f"Against the hang, boto3's first call was still waiting when the run was capped after "
            f"{hung['unfinished_at_cap']['seconds_so_far']:.0f} s: with the defaults, one call may wait three read "
            f"timeouts of 60 s (and backoff) before it fails, and the tenacity wrapper multiplies that by three "
            f"before it falls back to GCS."
        )
    careful = find.get(("refused", TENACITY))
    if careful is not None and (careful["latency_ms"]["fault"]["p50"] or 0) >= 1000:
        sentences.append(
            "The tenacity fallback answers from GCS, but each call pays the failed attempts and tenacity's waits "
            "(1 s, then 2 s) before it turns there, every time: nothing remembers that AWS is down. And its reads "
            f"from GCS may be stale ({careful['stale_reads']} here): what AWS acknowledged since the last copy never "
            "reached GCS."
        )
    hang = find.get(("hang", FAILOVER))
    if hang is not None and hang["latency_ms"]["fault"]["max"] is not None:
        settings = parameters["failover_settings"]
        attempt = settings["attempt_timeout"]
        sentences.append(
            f"In the hang, FailoverStorage's slowest call took {_ms(hang['latency_ms']['fault']['max'])} and "
            f"{hang['failed_during_fault']} failed: a call that meets the hang waits out one attempt "
            f"({'the whole deadline' if attempt is None else f'{attempt:g} s'} by default, within a "
            f"{settings['deadline']:g} s deadline) before it fails over, until {settings['consecutive_failures']} "
            f"failures in a row open AWS's circuit; from then on calls go to GCS at once and only probes reach AWS."
        )
    pending = [_pending(run) for run in runs if run["contender"] == FAILOVER and "failover" in run]
    if pending:
        behind = any(
            run["failover"]["journal_backlog"].get(store, 0)
            for run in runs
            if "failover" in run
            for store in run["failover"]["journal_backlog"]
            if not store.startswith("aws")
        )
        sentences.append(
            "When each run ended, FailoverStorage's journal held "
            + "; ".join(pending)
            + ": the writes made during the outage, to be replayed to AWS when it heals."
            + (
                " A write pending for GCS was acknowledged by AWS just before the fault and not yet copied (primary "
                "mode acknowledges once one store and the journal hold a write): a read of that key during the "
                "outage raises `StaleReadRisk` rather than return the older copy."
                if behind
                else ""
            )
        )
    sentences.append(
        "During the fault FailoverStorage's calls are answered by fake-gcs-server, which is faster than moto on "
        "this machine: latencies before and during the fault compare the two emulators, not two clouds."
    )
    sentences.append(
        "One run on a shared machine: the p99 of a few hundred calls or fewer is close to their maximum, and every "
        "latency includes moto's and fake-gcs-server's time on the same two cores."
    )
    return "\n\n".join(sentences)


def _pending(run: dict[str, Any]) -> str:
    backlog: dict[str, int] = run["failover"]["journal_backlog"]
    aws = sum(count for store, count in backlog.items() if store.startswith("aws"))
    gcs = sum(count for store, count in backlog.items() if not store.startswith("aws"))
    return f"{aws} writes pending for AWS and {gcs} for GCS ({run['scenario']})"


def plot(data: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    runs: list[dict[str, Any]] = data["runs"]
    fault_at = int(data["parameters"]["fault_at"])
    figure, axes = plt.subplots(len(_TITLES), 1, figsize=(10, 3.2 * len(_TITLES)), sharex=True)
    for axis, (scenario, title) in zip(axes, _TITLES.items(), strict=True):
        for order, run in enumerate(run for run in runs if run["scenario"] == scenario):
            color = _COLORS.get(run["contender"], "tab:gray")
            timeline: list[float] = run["timeline_ms"]
            indices = list(range(len(timeline)))
            axis.plot(indices, timeline, ".", markersize=2.5, color=color, label=run["contender"])
            failed = [index for index in run["failed_ops"] if index < len(timeline)]
            axis.plot(failed, [timeline[i] for i in failed], "x", markersize=5, color=color)
            if run["unfinished_at_cap"] is not None:
                # Decreasing sizes: triangles that land on the same spot stay visible.
                size = 12 - 3 * order
                axis.plot([len(timeline) - 1], [timeline[-1]], "^", markersize=size, color=color, markeredgecolor="k")
        axis.axvline(fault_at, color="black", linestyle="--", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_ylabel("latency (ms)")
        axis.set_title(title, fontsize=10)
        axis.grid(True, which="major", alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8, markerscale=3)
    axes[-1].set_xlabel(
        f"call index (fault from call {fault_at}, dashed; x: failed call; ^: unfinished when the run was capped)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

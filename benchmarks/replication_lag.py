"""Replication lag, primary mode, healthy: from a put's acknowledgement to its copy on each other store.

A `FailoverStorage([S3Store, GcsStore, AzureBlobStore])` in primary mode (moto, fake-gcs-server,
Azurite), default settings (one copy in flight per store), and once at 100 puts/s with 8 in flight
(``replication_concurrency``). Puts of 1 KiB objects, each on a key of its own, are scheduled at 10,
100 and 500 a second for a few seconds (open loop, ``writers`` threads taking the next scheduled put
when it is due; when the time is up, puts not yet started are not made). The lag of a copy is the
time from the put's return (its acknowledgement) to the return of the replicator's put on that
store, after which a read there finds it; it is taken by wrapping each secondary store's ``put``.
When the puts stop, the run waits for the backlog to drain (at most ``settle`` seconds); a copy
not made by then counts at that time (a lower bound). The rate reached is reported beside the rate
asked for.

``python -m benchmarks.replication_lag [--quick] [--out DIR]`` writes replication_lag.json, .md and .png.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import (
    environment,
    markdown_table,
    parse_options,
    percentile,
    pyplot,
    say,
    write_results,
)
from benchmarks._goals import Headline, headline_rows, headlines_markdown
from failover.adapters.aws import S3Store
from failover.adapters.azure import AzureBlobStore
from failover.adapters.gcp import GcsStore
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds

__all__ = ["LagSize", "main"]

NAME = "replication_lag"
GOAL_P99_S = 1.0


@dataclass(frozen=True)
class LagSize:
    # (puts/s, seconds, copies in flight per store): the default (1), and what a busier store set would use
    rates: tuple[tuple[float, float, int], ...] = ((10.0, 10.0, 1), (100.0, 5.0, 1), (500.0, 4.0, 1), (100.0, 5.0, 8))
    writers: int = 8
    object_size: int = 1024
    settle: float = 40.0


FULL = LagSize()
QUICK = LagSize(rates=((20.0, 1.0, 1),), writers=4, settle=20.0)


def _timed(store: ObjectStore, done: dict[str, float], lock: threading.Lock) -> None:
    """Record when ``store``'s put of each key first returns."""
    put: Callable[..., Any] = store.put

    def timed_put(key: str, *args: Any, **kwargs: Any) -> Any:
        result = put(key, *args, **kwargs)
        now = time.perf_counter()
        with lock:
            done.setdefault(key, now)
        return result

    setattr(store, "put", timed_put)  # noqa: B010 (an instance attribute over the method)


def run_rate(
    clouds: LocalClouds, journals: Path, size: LagSize, rate: float, seconds: float, concurrency: int
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    bucket = f"lag-{tag}"
    secondaries: list[ObjectStore] = [
        GcsStore(clouds.gcs.gcs_config(bucket, ensure=True)),
        AzureBlobStore(clouds.azure.azure_blob_config(bucket, ensure=True)),
    ]
    copied: dict[str, dict[str, float]] = {store.name: {} for store in secondaries}
    labels = {store.name: ":".join(store.name.split(":")[:2]) for store in secondaries}  # without the bucket
    lock = threading.Lock()
    for store in secondaries:
        _timed(store, copied[store.name], lock)
    storage = FailoverStorage(
        [S3Store(clouds.aws.s3_config(bucket, ensure=True)), *secondaries],
        journal=journals / f"{tag}.sqlite",
        replication_concurrency=concurrency,
    )
    payload = b"l" * size.object_size
    total = int(rate * seconds)
    acked: dict[str, float] = {}
    failures = 0
    next_index = 0
    started = time.perf_counter() + 0.2

    def writer() -> None:
        nonlocal next_index, failures
        while True:
            with lock:
                index = next_index
                next_index += 1
            if index >= total or time.perf_counter() > started + seconds:
                return  # the schedule is done, or its time is up (the rate reached says how far it got)
            due = started + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            key = f"lag/{index:06d}"
            try:
                storage.put(key, payload)
            except Exception:
                with lock:
                    failures += 1
                continue
            now = time.perf_counter()
            with lock:
                acked[key] = now

    try:
        threads = [threading.Thread(target=writer, daemon=True) for _ in range(size.writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ended = time.perf_counter()
        storage.drain(timeout=size.settle)
        settled = time.perf_counter()
    finally:
        storage.close()
    reached = len(acked) / (ended - started)
    per_store = {}
    for name, done in copied.items():
        lags = [(done.get(key, settled) - at) for key, at in acked.items()]
        missing = sum(key not in done for key in acked)
        per_store[labels[name]] = {
            "p50_s": _r(percentile(lags, 50)),
            "p99_s": _r(percentile(lags, 99)),
            "max_s": _r(max(lags) if lags else None),
            "not_copied_at_settle": missing,
            "lags_s": [round(value, 4) for value in lags],
        }
    return {
        "rate_asked": rate,
        "replication_concurrency": concurrency,
        "rate_reached": round(reached, 1),
        "seconds": seconds,
        "puts_acknowledged": len(acked),
        "puts_failed": failures,
        "stores": per_store,
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _copies(count: int) -> str:
    return f"{count} {'copy' if count == 1 else 'copies'}"


def headlines(results: list[dict[str, Any]]) -> list[Headline]:
    out = []
    for entry in results:
        worst = max((s["p99_s"] or 0.0) for s in entry["stores"].values())
        maximum = max((s["max_s"] or 0.0) for s in entry["stores"].values())
        out.append(
            Headline(
                "replication lag",
                f"ack to copy readable on the other stores, {entry['rate_asked']:g} puts/s asked "
                f"({entry['rate_reached']:g} reached), {_copies(entry['replication_concurrency'])} in flight per store",
                f"p99 {worst:.3f} s, max {maximum:.3f} s (worst store)",
                f"p99 < {GOAL_P99_S:g} s",
                worst < GOAL_P99_S,
            )
        )
    return out


def markdown(data: dict[str, Any]) -> str:
    env, size = data["environment"], data["parameters"]
    rows = [
        [
            e["rate_asked"],
            e["rate_reached"],
            e["puts_acknowledged"],
            e["replication_concurrency"],
            name,
            s["p50_s"],
            s["p99_s"],
            s["max_s"],
            s["not_copied_at_settle"],
        ]
        for e in data["results"]
        for name, s in e["stores"].items()
    ]
    table = markdown_table(
        [
            "puts/s asked",
            "puts/s reached",
            "puts",
            "copies in flight",
            "store",
            "p50 s",
            "p99 s",
            "max s",
            "not copied at settle",
        ],
        rows,
    )
    return "\n\n".join(
        [
            "# Replication lag in primary mode, healthy",
            f"{env['date']}, {env['cpu_count']} CPUs, Python {env['python']}, load {env['load_average_1_5_15']}, "
            f"whole run {data['wall_clock_s']:.0f} s. Primary S3 (moto); copies to GCS (fake-gcs-server) and Azure "
            f"Blob (Azurite), one in flight per store (the default). {size['writers']} writer threads, open loop, "
            f"{size['object_size']} B objects, each on a new key.",
            table,
            headlines_markdown([Headline(**row) for row in data["headlines"]]),
            "When the puts arrive faster than one copy at a time drains them, the backlog grows for as long as the "
            "puts last and the lag with it: the figure then measures the replicator's rate against the put rate, "
            "and `replication_concurrency` (copies in flight per store) is the knob. Emulators and the benchmark "
            "share two cores.",
            "![lag over the puts](replication_lag.png)",
        ]
    )


def plot(data: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    results = data["results"]
    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for axis, entry in zip(axes[0], results, strict=True):
        for name, store in entry["stores"].items():
            axis.plot(store["lags_s"], ".", markersize=2, label=name)
        axis.axhline(GOAL_P99_S, color="black", linestyle="--", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_xlabel("put (in order of acknowledgement)")
        axis.set_ylabel("lag (s)")
        axis.set_title(
            f"{entry['rate_asked']:g} puts/s asked, {entry['rate_reached']:g} reached, "
            f"{entry['replication_concurrency']} in flight",
            fontsize=9,
        )
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=7, markerscale=3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__.splitlines()[0] if __doc__ else NAME, argv)
    size = QUICK if options.quick else FULL
    env = environment()
    started = time.perf_counter()
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="failover-lag-") as scratch,
        LocalClouds(("aws", "gcs", "azure"), log_dir=Path(scratch)) as clouds,
    ):
        for rate, seconds, concurrency in size.rates:
            say(f"replication_lag: {rate:g} puts/s for {seconds:g} s, {concurrency} copies in flight")
            results.append(run_rate(clouds, Path(scratch), size, rate, seconds, concurrency))
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": options.quick,
        "parameters": asdict(size),
        "environment": env,
        "wall_clock_s": round(time.perf_counter() - started, 1),
        "results": results,
        "headlines": headline_rows(headlines(results)),
    }
    options.out.mkdir(parents=True, exist_ok=True)
    image = options.out / f"{NAME}.png"
    plot(data, image)
    for path in [*write_results(options.out, NAME, data, markdown(data)), image]:
        say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

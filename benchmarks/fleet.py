"""Fleet: what the shared PostgreSQL parts cost and buy, measured with processes on one machine.

(a) Puts per second of 1, 4 and 8 writer processes, each a `FailoverStorage` over two `MemoryStore`s
    (replication off, so only the journal differs): the fleet's `PostgresJournal` (a PostgreSQL 18
    server from the test kit, fsync on, on this machine) against one SQLite journal file shared by
    the processes (``synchronous=FULL``) and against no durable journal (`benchmarks._journal`).
(b) Shared health: seconds from one process opening an endpoint's circuit to the last of the other
    processes refusing calls to it (LISTEN/NOTIFY through `PostgresHealthStore`).
(c) Replication: items per second of 1, 2 and 4 replicator processes sharing one `PostgresJournal`,
    copying to a store whose writes take 5 ms each (a stand-in for a cloud round trip; no cloud).

``python -m benchmarks.fleet [--quick] [--out DIR]`` writes fleet.json and fleet.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from benchmarks._common import environment, markdown_table, parse_options, say, write_results
from benchmarks._journal import MemoryJournal
from failover.adapters.memory import MemoryStore
from failover.fleet import FleetConfig, FleetDatabase, PostgresHealthStore, PostgresJournal, migrate
from failover.health.tracker import HealthTracker
from failover.interfaces import Data, ObjectInfo
from failover.replication.journal import Journal, SqliteJournal
from failover.replication.replicator import Replicator
from failover.replication.stamps import HybridClock
from failover.storage import FailoverStorage
from failover.testing.emulators import PostgresServer

__all__ = ["main"]

NAME = "fleet"
Kind = Literal["none", "sqlite", "postgres"]
KINDS: tuple[Kind, ...] = ("none", "sqlite", "postgres")
BODY = bytes(range(256)) * 4  # 1 KiB
COPY_LATENCY = 0.005
_spawn = multiprocessing.get_context("spawn")


def _config(dsn: str, schema: str) -> FleetConfig:
    return FleetConfig(dsn=dsn, schema_name=schema, pool_size=2, call_timeout=10.0)


# -- (a) puts per second -------------------------------------------------------------------------------


def _writer(kind: Kind, dsn: str, schema: str, sqlite: str, seconds: float, start: Any, results: Any) -> None:
    journal: Journal
    if kind == "postgres":
        journal = PostgresJournal.open(_config(dsn, schema))
    elif kind == "sqlite":
        journal = SqliteJournal(sqlite, busy_timeout=60.0)  # 8 processes on 2 loaded CPUs wait long
    else:
        journal = MemoryJournal()
    storage = FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=journal, replicate=False)
    prefix = f"w{multiprocessing.current_process().pid}"
    for n in range(20):
        with contextlib.suppress(Exception):
            storage.put(f"{prefix}/{n}", BODY)
    start.wait()
    count, failed, ends = 0, 0, time.monotonic() + seconds
    while time.monotonic() < ends:
        try:
            storage.put(f"{prefix}/{count % 500}", BODY)
            count += 1
        except Exception:  # a SQLite journal busy past its timeout on a loaded machine: counted, not fatal
            failed += 1
    storage.close()
    journal.close()
    results.put((count / seconds, failed))


def _puts_per_second(kind: Kind, processes: int, dsn: str, seconds: float) -> float:
    schema = f"bench_{kind}_{processes}_{int(time.time() * 1000) % 10**8}"
    migrate_db = FleetDatabase(_config(dsn, schema))
    migrate(migrate_db)
    migrate_db.close()
    with tempfile.TemporaryDirectory() as tmp:
        start, results = _spawn.Event(), _spawn.Queue()
        args = (kind, dsn, schema, str(Path(tmp) / "journal.sqlite"), seconds, start, results)
        workers = [_spawn.Process(target=_writer, args=args) for _ in range(processes)]
        for worker in workers:
            worker.start()
        time.sleep(1.0 + 0.3 * processes)  # let every worker import, connect and warm up
        start.set()
        answers = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
    failed = sum(failures for _, failures in answers)
    if failed:
        say(f"  {failed} puts failed ({kind} x{processes})")
    return float(sum(rate for rate, _ in answers))


# -- (b) one circuit reaching the fleet ------------------------------------------------------------------


def _watcher(index: int, dsn: str, schema: str, endpoints: Sequence[str], at: float, results: Any) -> None:
    db = FleetDatabase(_config(dsn, schema))
    store = PostgresHealthStore(db).start()
    store.wait_connected(30)
    seen: list[float] = []
    for round_, endpoint in enumerate(endpoints):
        tracker = HealthTracker(endpoint, store=store)
        due = at + round_ * 0.5
        while time.time() < due:
            time.sleep(0.001)
        if index == 0:
            tracker.open_circuit("benchmark")
            seen.append(time.monotonic())  # CLOCK_MONOTONIC is one clock for every process of the machine
            continue
        given_up = time.monotonic() + 10.0
        while tracker.allow_request() and time.monotonic() < given_up:
            time.sleep(0.0005)
        seen.append(time.monotonic())
    store.close()
    db.close()
    results.put((index, seen))


def _propagation(processes: int, rounds: int, dsn: str) -> list[float]:
    schema = f"bench_health_{int(time.time() * 1000) % 10**8}"
    db = FleetDatabase(_config(dsn, schema))
    migrate(db)
    db.close()
    endpoints = [f"s3:bench-{n}" for n in range(rounds)]
    results = _spawn.Queue()
    at = time.time() + 3.0 + 0.3 * processes
    workers = [_spawn.Process(target=_watcher, args=(n, dsn, schema, endpoints, at, results)) for n in range(processes)]
    for worker in workers:
        worker.start()
    seen = dict(results.get(timeout=60 + rounds) for _ in workers)
    for worker in workers:
        worker.join()
    return [max(seen[n][round_] for n in seen) - seen[0][round_] for round_ in range(rounds)]


# -- (c) replication throughput --------------------------------------------------------------------------


class _SlowStore(MemoryStore):
    """A memory store whose writes take ``COPY_LATENCY`` (a cloud round trip's stand-in)."""

    def put(self, key: str, data: Data, **kwargs: Any) -> ObjectInfo:
        time.sleep(COPY_LATENCY)
        return super().put(key, data, **kwargs)


def _objects(count: int) -> list[tuple[str, str]]:
    clock = HybridClock("bench")
    return [(f"obj/{n:05d}", str(clock.now())) for n in range(count)]


def _replicator(dsn: str, schema: str, objects: Sequence[tuple[str, str]], start: Any, results: Any) -> None:
    source = MemoryStore("a")
    for key, version in objects:
        source.put(key, BODY, metadata={"failover_version": version})
    with PostgresJournal.open(_config(dsn, schema)) as journal:
        replicator = Replicator({"a": source, "b": _SlowStore("b")}, journal, batch=10, poll_interval=0.05)
        start.wait()
        stats = replicator.drain(timeout=600)
    results.put(stats.copied)


def _replication_rate(processes: int, count: int, dsn: str) -> tuple[float, int]:
    schema = f"bench_repl_{processes}_{int(time.time() * 1000) % 10**8}"
    objects = _objects(count)
    sha = hashlib.sha256(BODY).hexdigest()
    with PostgresJournal.open(_config(dsn, schema)) as journal:
        for key, version in objects:
            journal.append(key, version, sha, len(BODY), "a", ["b"])
    start, results = _spawn.Event(), _spawn.Queue()
    workers = [
        _spawn.Process(target=_replicator, args=(dsn, schema, objects, start, results)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.5 + 0.3 * processes)
    began = time.monotonic()
    start.set()
    copied = sum(results.get(timeout=600) for _ in workers)
    elapsed = time.monotonic() - began
    for worker in workers:
        worker.join()
    return copied / elapsed, copied


# -- the report ------------------------------------------------------------------------------------------


def _markdown(data: Mapping[str, Any]) -> str:
    env = data["environment"]
    puts = data["puts_per_second"]
    counts = sorted({int(n) for rates in puts.values() for n in rates})
    rows = [[kind, *(round(puts[kind][str(n)]) for n in counts)] for kind in KINDS]
    delays = data["propagation_seconds"]
    repl = data["replication"]
    lines = [
        "# Fleet: the shared PostgreSQL journal, health and replication",
        "",
        f"{env['date']}, {env['cpu_count']} CPUs, Python {env['python']}, load average "
        f"{env['load_average_1_5_15'][0]} at the start (a shared machine: compare only numbers of the same run). "
        "PostgreSQL 18 from the test kit on the same machine, fsync on. Raw numbers: `fleet.json`.",
        "",
        "## (a) Puts per second, all processes together (FailoverStorage over two MemoryStores, replication off)",
        "",
        markdown_table(["journal", *(f"{n} process{'es' if n > 1 else ''}" for n in counts)], rows),
        "",
        "## (b) From one process opening a circuit to the last other process refusing the endpoint",
        "",
        f"{data['health_processes']} processes, {len(delays)} rounds: "
        f"median {statistics.median(delays) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms.",
        "",
        f"## (c) Replication through one PostgresJournal ({data['replication_items']} items, "
        f"{COPY_LATENCY * 1000:g} ms a copy)",
        "",
        markdown_table(
            ["replicator processes", "items/s", "copies made"],
            [[n, round(repl[n]["items_per_second"], 1), repl[n]["copied"]] for n in repl],
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__ or NAME, argv)
    env = environment()  # the load average at the start
    seconds, rounds, items = (1.0, 3, 60) if options.quick else (3.0, 10, 400)
    process_counts = (1, 2) if options.quick else (1, 4, 8)
    replicators = (1, 2) if options.quick else (1, 2, 4)
    with PostgresServer() as server:
        server.start()
        puts: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
        for processes in process_counts:
            for kind in KINDS:
                puts[kind][str(processes)] = _puts_per_second(kind, processes, server.dsn, seconds)
                say(f"puts/s {kind} x{processes}: {puts[kind][str(processes)]:.0f}")
        health_processes = 2 if options.quick else 4
        delays = _propagation(health_processes, rounds, server.dsn)
        say(f"circuit reached the fleet in {[round(d * 1000, 1) for d in delays]} ms")
        replication: dict[str, dict[str, float]] = {}
        for processes in replicators:
            rate, copied = _replication_rate(processes, items, server.dsn)
            replication[str(processes)] = {"items_per_second": rate, "copied": copied}
            say(f"replication x{processes}: {rate:.1f} items/s, {copied} copies")
    data: dict[str, Any] = {
        "environment": env,
        "quick": options.quick,
        "seconds_per_run": seconds,
        "puts_per_second": puts,
        "health_processes": health_processes,
        "propagation_seconds": delays,
        "replication_items": items,
        "copy_latency_seconds": COPY_LATENCY,
        "replication": replication,
    }
    for path in write_results(options.out, NAME, data, _markdown(data)):
        say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

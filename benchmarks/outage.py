"""Outage: the same workload through an AWS outage, for three contenders and three kinds of fault.

A seeded workload (60% gets, 40% puts of 1 KiB objects over 100 keys, 500 operations) runs against
"AWS" (S3 on moto, behind a `FaultProxy`), with GCS (fake-gcs-server) as the alternative. After 100
operations AWS fails, and stays failed to the end of the run (it never heals):

- ``refused``: the proxy closes its port (`Fault.refuse`): connects are refused;
- ``dns``: the endpoint's host name (an alias that resolved to the proxy) stops resolving
  (`DnsFaults.fail`), and the open keep-alive connections are cut at the same moment (otherwise the
  pooled connections would go on working and no client would notice the name had gone);
- ``hang``: the proxy accepts and reads, and never answers (`Fault.blackhole`).

Contenders: `benchmarks._outage_clients`. A run of one contender in one scenario is capped: at most
``fault_budget`` seconds of the fault phase are measured. The call in flight when the cap strikes is
reported as unfinished, with its time so far (a lower bound); nothing is extrapolated.

Calls that reached AWS after the fault started are counted where each fault can see them: refused
connects with a ``sys.audit`` hook on ``socket.connect`` (the kernel refuses them, so the proxy
never sees them), failed lookups with `DnsFaults.refused`, hung requests with `FaultProxy.stats`.

``python -m benchmarks.outage [--quick] [--out DIR]`` writes outage.json, outage.md and outage.png.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks._common import environment, local_clouds, parse_options, percentile, say, write_results
from benchmarks._outage_clients import CONTENDERS, Client, Target, build_client
from benchmarks._outage_report import markdown, plot
from failover.engine import EngineSettings
from failover.testing.emulators import LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy

__all__ = ["SCENARIOS", "OutageSize", "main"]

NAME = "outage"
SCENARIOS = ("refused", "dns", "hang")


@dataclass(frozen=True)
class OutageSize:
    operations: int = 500
    fault_at: int = 100  # the fault starts before this operation (after this many have run)
    keys: int = 100
    get_share: float = 0.6
    object_size: int = 1024
    fault_budget: float = 40.0  # seconds of the fault phase measured, at most, per contender and scenario
    join_limit: float = 20.0  # seconds to let a capped run's last call end, unmeasured
    seed: int = 20251020


FULL = OutageSize()
QUICK = OutageSize(operations=40, fault_at=15, keys=20, fault_budget=3.0, join_limit=5.0)


def workload(size: OutageSize) -> list[tuple[str, str]]:
    rng = random.Random(size.seed)
    return [
        ("get" if rng.random() < size.get_share else "put", f"obj/{rng.randrange(size.keys):03d}")
        for _ in range(size.operations)
    ]


def _value(key: str, index: int, size: int) -> bytes:
    head = f"{key}@{index};".encode()
    return (head + b"." * size)[:size]


class ConnectCounter:
    """Socket connects to watched ports, counted from a ``sys.audit`` hook, refused ones included."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: set[int] = set()
        self._counts: Counter[int] = Counter()
        sys.addaudithook(self._hook)  # a hook cannot be removed: one counter per process

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.connect" and self._watched:
            address = args[1]
            if isinstance(address, tuple) and len(address) >= 2 and address[1] in self._watched:
                with self._lock:
                    self._counts[address[1]] += 1

    def watch(self, port: int) -> None:
        with self._lock:
            self._watched.add(port)

    def count(self, port: int) -> int:
        with self._lock:
            return self._counts[port]


@dataclass
class Run:
    """What one contender did in one scenario."""

    scenario: str
    contender: str
    latencies: list[float] = field(default_factory=list)  # seconds, one per measured operation, in order
    failed: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    unfinished: tuple[int, float] | None = None  # the call in flight at the cap: index, seconds so far
    started: float = 0.0
    fault_started: float | None = None
    ended: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class _Workload(threading.Thread):
    """Runs the operations in order on one client, and starts the fault when its time comes."""

    def __init__(
        self, client: Client, ops: Sequence[tuple[str, str]], size: OutageSize, run: Run, fault: Callable[[], None]
    ):
        super().__init__(name=f"outage-{run.scenario}-{run.contender}", daemon=True)
        self.client, self.ops, self.size, self.run_record, self.fault = client, ops, size, run, fault
        self.lock = threading.Lock()
        self.capped = False
        self.in_flight: tuple[int, float] | None = None
        self.fault_on = threading.Event()
        self.error: BaseException | None = None
        self.acceptable: dict[str, set[bytes]] = {}  # per key: the last acknowledged value, and later unacked ones

    def seed(self) -> None:
        objects = {
            f"obj/{index:03d}": _value(f"obj/{index:03d}", -1, self.size.object_size) for index in range(self.size.keys)
        }
        self.client.seed(objects)
        self.acceptable = {key: {data} for key, data in objects.items()}

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc
        finally:
            self.fault_on.set()

    def _run(self) -> None:
        record = self.run_record
        record.started = time.perf_counter()
        for index, (op, key) in enumerate(self.ops):
            if index == self.size.fault_at:
                self.fault()
                record.fault_started = time.perf_counter()
                self.fault_on.set()
            started = time.perf_counter()
            with self.lock:
                if self.capped:
                    return
                self.in_flight = (index, started)
            ok, stale, error = self._one(index, op, key)
            ended = time.perf_counter()
            with self.lock:
                if self.capped:
                    return  # ended after the cap: not measured
                self.in_flight = None
                record.latencies.append(ended - started)
                record.ended = ended
                if not ok:
                    record.failed.append(index)
                    record.errors[error] += 1
                if stale:
                    record.stale.append(index)

    def _one(self, index: int, op: str, key: str) -> tuple[bool, bool, str]:
        try:
            if op == "get":
                data = self.client.get(key)
                return True, data not in self.acceptable[key], ""
            data = _value(key, index, self.size.object_size)
            self.acceptable[key].add(data)  # a failed put may still have happened
            self.client.put(key, data)
            self.acceptable[key] = {data}
            return True, False, ""
        except Exception as exc:
            return False, False, type(exc).__name__


@dataclass
class Bench:
    clouds: LocalClouds
    dns: DnsFaults
    connects: ConnectCounter
    size: OutageSize
    ops: list[tuple[str, str]]


def run_one(bench: Bench, scenario: str, contender: str) -> Run:
    size, dns = bench.size, bench.dns
    record = Run(scenario, contender)
    tag = uuid.uuid4().hex[:8]
    # moto reads a dotted host name as a virtual-hosted bucket, unless the name starts with "localhost".
    host = f"localhost.s3-{tag}.aws.failover.test"
    dns.alias(host, "127.0.0.1")
    proxy = FaultProxy.in_front_of(bench.clouds.aws.endpoint).start()
    bench.connects.watch(proxy.port)
    before: dict[str, int] = {}

    def counters() -> dict[str, int]:
        stats = proxy.stats
        return {
            "connects": bench.connects.count(proxy.port),
            "lookups_refused": dns.refused.get(host, 0),
            "requests_seen": stats.requests_seen,
            "connections_accepted": stats.connections_accepted,
        }

    def start_fault() -> None:
        before.update(counters())
        if scenario == "dns":
            dns.fail(host)
            proxy.set(Fault.refuse())  # cut the pooled connections; new ones need the name
        elif scenario == "refused":
            proxy.set(Fault.refuse())
        else:
            proxy.set(Fault.blackhole())

    client: Client | None = None
    worker: _Workload | None = None
    try:
        endpoint = f"http://{host}:{proxy.port}" if scenario == "dns" else proxy.endpoint
        bucket = f"outage-{scenario}-{tag}"
        aws, gcs = bench.clouds.aws, bench.clouds.gcs
        client = build_client(contender, Target(aws.s3_config(bucket, endpoint_url=endpoint), gcs.gcs_config(bucket)))
        worker = _Workload(client, bench.ops, size, record, start_fault)
        worker.seed()
        worker.start()
        _wait_capped(worker, record, size.fault_budget)
        after = counters()
        record.counters = {name: after[name] - before.get(name, 0) for name in after}
        if client.failover is not None:
            record.details = {
                "health": {name: state.value for name, state in client.failover.health.states().items()},
                "journal_backlog": client.failover.journal.backlog(),
            }
    finally:
        proxy.stop()  # ends a hung call (the counters were read before)
        if worker is not None and worker.is_alive():
            worker.join(size.join_limit)
        if client is not None:
            client.close()
        dns.heal(host)
        dns.unalias(host)
    return record


def _wait_capped(worker: _Workload, record: Run, budget: float) -> None:
    """Wait for the workload, but for at most ``budget`` seconds of its fault phase; then cap it."""
    worker.fault_on.wait()
    if record.fault_started is not None:
        worker.join(max(0.0, budget - (time.perf_counter() - record.fault_started)))
    if worker.is_alive():
        with worker.lock:
            worker.capped = True
            now = time.perf_counter()
            if worker.in_flight is not None:
                index, started = worker.in_flight
                record.unfinished = (index, now - started)
            record.ended = now
    if worker.error is not None:
        raise RuntimeError(f"the {record.scenario} run of {record.contender} broke") from worker.error


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__.splitlines()[0] if __doc__ else NAME, argv)
    size = QUICK if options.quick else FULL
    env = environment()
    ops = workload(size)
    runs: list[Run] = []
    started = time.perf_counter()
    with local_clouds() as clouds, DnsFaults() as dns:
        bench = Bench(clouds, dns, ConnectCounter(), size, ops)
        for scenario in SCENARIOS:
            for contender in CONTENDERS:
                say(f"outage: {scenario} / {contender}")
                runs.append(run_one(bench, scenario, contender))
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": options.quick,
        "parameters": {
            **asdict(size),
            "gets": sum(op == "get" for op, _ in ops),
            "puts": sum(op == "put" for op, _ in ops),
            "scenarios": list(SCENARIOS),
            "contenders": list(CONTENDERS),
            "heals": False,
            "failover_settings": _failover_settings(),
        },
        "environment": env,
        "wall_clock_s": round(time.perf_counter() - started, 1),
        "runs": [summary(run, size) for run in runs],
    }
    image = options.out / f"{NAME}.png"
    options.out.mkdir(parents=True, exist_ok=True)
    plot(data, image)
    for path in [*write_results(options.out, NAME, data, markdown(data)), image]:
        say(f"wrote {path}")
    return 0


def summary(run: Run, size: OutageSize) -> dict[str, Any]:
    latencies = [seconds * 1e3 for seconds in run.latencies]
    if run.unfinished is not None:
        latencies.append(run.unfinished[1] * 1e3)  # a lower bound: the call had not ended at the cap
    fault = latencies[size.fault_at :]

    def spread(values: list[float]) -> dict[str, float | None]:
        return {
            "p50": _round(percentile(values, 50)),
            "p99": _round(percentile(values, 99)),
            "max": _round(max(values) if values else None),
        }

    fault_started = run.fault_started if run.fault_started is not None else run.ended
    headline = {"refused": "connects", "dns": "lookups_refused", "hang": "requests_seen"}[run.scenario]
    return {
        "scenario": run.scenario,
        "contender": run.contender,
        "operations_measured": len(latencies),
        "fault_operations_measured": len(fault),
        "capped": run.unfinished is not None or len(latencies) < size.operations,
        "unfinished_at_cap": None
        if run.unfinished is None
        else {"operation": run.unfinished[0], "seconds_so_far": round(run.unfinished[1], 2)},
        "failed": len(run.failed),
        "failed_during_fault": sum(index >= size.fault_at for index in run.failed),
        "stale_reads": len(run.stale),
        "errors": dict(run.errors),
        "aws_calls_after_fault": run.counters.get(headline),
        "aws_calls_counted_as": headline,
        "counters_after_fault": run.counters,
        "latency_ms": {"all": spread(latencies), "fault": spread(fault)},
        "total_s": round(run.ended - run.started, 2),
        "fault_phase_s": round(run.ended - fault_started, 2),
        "failed_ops": run.failed,
        "stale_ops": run.stale,
        "timeline_ms": [round(value, 2) for value in latencies],
        **({"failover": run.details} if run.details else {}),
    }


def _failover_settings() -> dict[str, Any]:
    """The defaults the FailoverStorage contender runs with (the reading quotes them)."""
    settings = EngineSettings()
    return {
        "deadline": settings.deadline,
        "attempt_timeout": settings.attempt_timeout,
        "max_attempts": settings.max_attempts,
        "consecutive_failures": settings.health.consecutive_failures,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    raise SystemExit(main())

"""Retry load: how many requests a dead or 503-storming provider receives, against its normal rate.

One thread runs a paced workload (60% gets, 40% puts of 1 KiB over 50 keys, ``rate`` operations a
second) against S3 (moto, behind a `FaultProxy`) with GCS (fake-gcs-server) beside it: ``phase``
seconds healthy, then ``phase`` seconds of a fault that does not heal:

- ``refused``: the proxy closes its port; every connect is refused (counted with a ``sys.audit`` hook
  on ``socket.connect``: the kernel refuses them, the proxy never sees them);
- ``503 storm``: the proxy answers every request with 503 SlowDown (counted by the proxy).

The figure is the rate of requests (or connects) reaching S3 during the fault, divided by the rate of
requests it received in the healthy phase. Probes and the replicator's copies count: they are load.
Contenders: FailoverStorage (default settings) and, for scale, the two boto3 baselines of the outage
benchmark (boto3 defaults; boto3 + tenacity + GCS fallback), paced the same way; a client slower than
the pace runs as fast as it can.

``python -m benchmarks.retry_load [--quick] [--out DIR]`` writes retry_load.json and retry_load.md.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks._common import environment, local_clouds, markdown_table, parse_options, say, write_results
from benchmarks._goals import Headline, headline_rows, headlines_markdown
from benchmarks._outage_clients import BOTO3, FAILOVER, TENACITY, Target, build_client
from benchmarks.outage import ConnectCounter
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy

__all__ = ["RetryLoadSize", "main"]

NAME = "retry_load"
FAULTS = ("refused", "503 storm")
CONTENDERS = (FAILOVER, BOTO3, TENACITY)
GOAL = 1.1
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@dataclass(frozen=True)
class RetryLoadSize:
    rate: float = 25.0  # operations a second, paced
    phase: float = 6.0  # seconds healthy, then seconds of fault
    keys: int = 50
    object_size: int = 1024
    get_share: float = 0.6
    seed: int = 20261203
    contenders: tuple[str, ...] = CONTENDERS


FULL = RetryLoadSize()
QUICK = RetryLoadSize(rate=20.0, phase=1.0, keys=10, contenders=(FAILOVER,))


class _Paced(threading.Thread):
    def __init__(self, client: Any, size: RetryLoadSize, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client, self.size, self.stop = client, size, stop
        self.operations = 0
        self.failures = 0

    def run(self) -> None:
        rng = random.Random(self.size.seed)
        interval = 1.0 / self.size.rate
        next_at = time.perf_counter()
        while not self.stop.is_set():
            key = f"obj/{rng.randrange(self.size.keys):03d}"
            try:
                if rng.random() < self.size.get_share:
                    self.client.get(key)
                else:
                    self.client.put(key, b"." * self.size.object_size)
            except Exception:
                self.failures += 1
            self.operations += 1
            next_at = max(next_at + interval, time.perf_counter() - interval)
            delay = next_at - time.perf_counter()
            if delay > 0:
                self.stop.wait(delay)


def run_one(
    clouds: LocalClouds, connects: ConnectCounter, size: RetryLoadSize, fault: str, contender: str
) -> dict[str, Any]:
    proxy = FaultProxy.in_front_of(clouds.aws.endpoint).start()
    connects.watch(proxy.port)
    bucket = f"retry-{uuid.uuid4().hex[:8]}"
    client = build_client(
        contender, Target(clouds.aws.s3_config(bucket, endpoint_url=proxy.endpoint), clouds.gcs.gcs_config(bucket))
    )
    stop = threading.Event()
    worker = _Paced(client, size, stop)
    try:
        client.seed({f"obj/{index:03d}": b"." * size.object_size for index in range(size.keys)})
        proxy.reset_stats()
        worker.start()
        time.sleep(size.phase)
        healthy_requests, healthy_ops = proxy.stats.requests_seen, worker.operations
        connects_before, seen_before = connects.count(proxy.port), proxy.stats.requests_seen
        if fault == "refused":
            proxy.set(Fault.refuse())
        else:
            proxy.set(Fault.http_status(503, body=SLOW_DOWN, headers={"Content-Type": "application/xml"}))
        fault_started = time.perf_counter()
        time.sleep(size.phase)
        fault_seconds = time.perf_counter() - fault_started
        if fault == "refused":
            fault_requests = connects.count(proxy.port) - connects_before
        else:
            fault_requests = proxy.stats.requests_seen - seen_before
        fault_ops = worker.operations - healthy_ops
    finally:
        stop.set()
        proxy.stop()
        worker.join(5)  # a baseline may sit in its backoff; the thread is a daemon
        client.close()
    normal = healthy_requests / size.phase
    during = fault_requests / fault_seconds
    return {
        "fault": fault,
        "contender": contender,
        "healthy_requests_per_s": round(normal, 2),
        "fault_requests_per_s": round(during, 2),
        "ratio": round(during / normal, 3) if normal else None,
        "counted_as": "connects" if fault == "refused" else "requests seen by the proxy",
        "operations": {"healthy": healthy_ops, "fault": fault_ops},
        "fault_requests_per_operation": round(fault_requests / fault_ops, 3) if fault_ops else None,
        "failures": worker.failures,
    }


def headlines(runs: list[dict[str, Any]]) -> list[Headline]:
    out = []
    for run in runs:
        if run["contender"] != FAILOVER:
            continue
        ratio = run["ratio"]

        def cell(entry: dict[str, Any]) -> str:
            per_op = entry["fault_requests_per_operation"]
            return f"{entry['contender']} {entry['ratio']:.2f}x ({'-' if per_op is None else f'{per_op:.2f}'} per call)"

        cells = [cell(run)] + [
            cell(other)
            for other in runs
            if other["fault"] == run["fault"] and other["contender"] != FAILOVER and other["ratio"] is not None
        ]
        out.append(
            Headline(
                "retry load",
                f"requests a {run['fault']} S3 receives per second, against its healthy rate (and per call made)",
                "; ".join(cells) if ratio is not None else "-",
                f"<= {GOAL:g}x",
                ratio is not None and ratio <= GOAL,
            )
        )
    return out


def markdown(data: dict[str, Any]) -> str:
    env, size = data["environment"], data["parameters"]
    rows = [
        [
            run["fault"],
            run["contender"],
            run["healthy_requests_per_s"],
            run["fault_requests_per_s"],
            run["ratio"],
            run["fault_requests_per_operation"],
            run["operations"]["healthy"],
            run["operations"]["fault"],
            run["failures"],
        ]
        for run in data["runs"]
    ]
    table = markdown_table(
        [
            "fault",
            "client",
            "healthy req/s",
            "fault req/s",
            "ratio",
            "fault req per op",
            "ops healthy",
            "ops fault",
            "failed ops",
        ],
        rows,
    )
    return "\n\n".join(
        [
            "# Retry load: what a dead or 503-storming provider receives",
            f"{env['date']}, {env['cpu_count']} CPUs, Python {env['python']}, load {env['load_average_1_5_15']}, "
            f"whole run {data['wall_clock_s']:.0f} s. One thread, paced at {size['rate']:g} operations/s "
            f"({size['get_share']:.0%} gets, 1 KiB puts), {size['phase']:g} s healthy then {size['phase']:g} s of the "
            "fault. Requests to S3 are counted at its proxy (refused connects with an audit hook); probes and "
            "replication copies are included.",
            table,
            headlines_markdown([Headline(**row) for row in data["headlines"]]),
            "A ratio below 1 means the provider receives less than its normal load: the open circuit sends calls "
            "elsewhere and only probes reach it. The boto3 baselines keep calling the failed provider on every "
            "operation, with botocore's own retries (standard mode, 3 attempts, limited by its retry quota) and, for "
            "the tenacity wrapper, three such calls before the GCS fallback. Their rate per second stays low only "
            "because their own backoff (and tenacity's waits) slows the client down: per call made, they send the "
            "failed provider several requests, where a paced fleet of such clients would multiply its load.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__.splitlines()[0] if __doc__ else NAME, argv)
    size = QUICK if options.quick else FULL
    env = environment()
    started = time.perf_counter()
    runs = []
    with local_clouds() as clouds:
        connects = ConnectCounter()
        for fault in FAULTS:
            for contender in size.contenders:
                say(f"retry_load: {fault} / {contender}")
                runs.append(run_one(clouds, connects, size, fault, contender))
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": options.quick,
        "parameters": {**asdict(size), "faults": list(FAULTS)},
        "environment": env,
        "wall_clock_s": round(time.perf_counter() - started, 1),
        "runs": runs,
        "headlines": headline_rows(headlines(runs)),
    }
    for path in write_results(options.out, NAME, data, markdown(data)):
        say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

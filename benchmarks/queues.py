"""Queues: SQS fails in the middle of a stream of sends; what each client sent, delivered, lost, repeated.

``messages`` sends, paced at ``rate`` a second, each body a unique id, to SQS (moto, behind a
`FaultProxy`) with Azure Queue Storage (Azurite) beside it. Before send ``fault_at``, SQS fails for
``fault_seconds``, then heals:

- ``refused``: the proxy closes its port;
- ``dns``: the endpoint's host name stops resolving (and the pooled connections are cut);
- ``hang``: the proxy holds every byte both ways (`Fault.stall`), and delivers what it held when
  the fault clears, as a paused server does when it resumes: a send that timed out may still land.

Afterwards a consumer receives (and acks) until every queue has been empty for ``quiet`` seconds
(at most ``receive_budget``). Counted per contender (`benchmarks._queue_clients`): sends
acknowledged, sends that raised, ids delivered, ids acknowledged but never delivered (lost), and
deliveries beyond the first of an id (delivered twice); send latency p99 during the fault.

``python -m benchmarks.queues [--quick] [--out DIR]`` writes queues.json and queues.md.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import environment, markdown_table, parse_options, percentile, say, write_results
from benchmarks._goals import Headline, headline_rows, headlines_markdown
from benchmarks._queue_clients import BOTO3, CONTENDERS, DEDUP, FAILOVER, TENACITY, build_queue_client
from failover.testing.emulators import LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy

__all__ = ["QueueSize", "main"]

NAME = "queues"
SCENARIOS = ("refused", "dns", "hang")


@dataclass(frozen=True)
class QueueSize:
    messages: int = 200
    rate: float = 20.0
    fault_at: int = 60
    fault_seconds: float = 8.0
    send_budget: float = 60.0  # seconds the sender may run in all; later sends are not made
    quiet: float = 4.0
    receive_budget: float = 40.0
    scenarios: tuple[str, ...] = SCENARIOS
    contenders: tuple[str, ...] = CONTENDERS


FULL = QueueSize(messages=100, rate=25.0, fault_at=25, fault_seconds=5.0, quiet=2.0)
QUICK = QueueSize(
    messages=20,
    rate=20.0,
    fault_at=5,
    fault_seconds=1.0,
    send_budget=10.0,
    quiet=1.0,
    receive_budget=10.0,
    scenarios=("hang",),
    contenders=(DEDUP,),
)


def run_one(
    clouds: LocalClouds, dns: DnsFaults, size: QueueSize, scenario: str, contender: str, scratch: Path
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    host = f"localhost.sqs-{tag}.aws.failover.test"
    dns.alias(host, "127.0.0.1")
    proxy = FaultProxy.in_front_of(clouds.aws.endpoint).start()
    endpoint = f"http://{host}:{proxy.port}" if scenario == "dns" else proxy.endpoint
    name = f"q-{scenario}-{tag}"
    kit = build_queue_client(
        contender,
        clouds.aws.sqs_config(name, endpoint_url=endpoint),
        clouds.azure.azure_queue_config(name),
        scratch / f"dedup-{tag}.sqlite",
    )
    acknowledged: list[str] = []
    failed: Counter[str] = Counter()
    fault_latencies: list[float] = []
    healed = threading.Event()

    def heal() -> None:
        dns.heal(host)
        proxy.clear()
        healed.set()

    timer: threading.Timer | None = None
    fault_started = fault_ended = 0.0
    interval = 1.0 / size.rate
    started = time.perf_counter()
    not_sent = 0
    try:
        for index in range(size.messages):
            if time.perf_counter() - started > size.send_budget:
                not_sent = size.messages - index
                break
            if index == size.fault_at:
                if scenario == "dns":
                    dns.fail(host)
                    proxy.set(Fault.refuse())  # cut the pooled connections: new ones need the name
                    proxy.clear()
                else:
                    proxy.set(Fault.refuse() if scenario == "refused" else Fault.stall())
                fault_started = time.perf_counter()
                timer = threading.Timer(size.fault_seconds, heal)
                timer.start()
            body = f"{tag}-{index:05d}"
            sent_at = time.perf_counter()
            try:
                kit.send(body.encode())
                acknowledged.append(body)
            except Exception as exc:
                failed[type(exc).__name__] += 1
            ended = time.perf_counter()
            if index >= size.fault_at and sent_at < fault_started + size.fault_seconds:  # began during the fault
                fault_latencies.append(ended - sent_at)
            pause = started + (index + 1) * interval - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        healed.wait(size.fault_seconds + 5)
        fault_ended = time.perf_counter()
        delivered: Counter[str] = Counter()
        receive_started = last_new = time.perf_counter()
        while time.perf_counter() - receive_started < size.receive_budget:
            bodies = kit.receive()
            for received in bodies:
                delivered[received.decode()] += 1
            now = time.perf_counter()
            if bodies:
                last_new = now
                continue
            if not kit.settled():
                last_new = now  # quiet counts from when every queue is read again
            elif now - last_new > size.quiet:
                break
            time.sleep(0.2)
    finally:
        if timer is not None:
            timer.cancel()
        heal()
        kit.close()
        proxy.stop()
        dns.unalias(host)
    ms = [value * 1e3 for value in fault_latencies]
    return {
        "scenario": scenario,
        "contender": contender,
        "sends_attempted": size.messages - not_sent,
        "acknowledged": len(acknowledged),
        "send_errors": sum(failed.values()),
        "errors": dict(failed),
        "delivered": len(delivered),
        "lost": sum(body not in delivered for body in acknowledged),
        "delivered_twice": sum(count - 1 for count in delivered.values() if count > 1),
        "unacknowledged_but_delivered": sum(body not in set(acknowledged) for body in delivered),
        "fault_sends": len(ms),
        "fault_send_ms": {
            "p50": _r(percentile(ms, 50)),
            "p99": _r(percentile(ms, 99)),
            "max": _r(max(ms) if ms else None),
        },
        "fault_phase_s": round(fault_ended - fault_started, 2) if fault_started else None,
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def headlines(runs: list[dict[str, Any]]) -> list[Headline]:
    out = []
    for scenario in SCENARIOS:
        by = {run["contender"]: run for run in runs if run["scenario"] == scenario}

        def cell(run: dict[str, Any]) -> str:
            p99 = run["fault_send_ms"]["p99"]
            return (
                f"{run['contender']} {run['lost']} / {run['delivered_twice']} / {run['send_errors']} / "
                f"{'-' if p99 is None else f'{p99:,.0f} ms'}"
            )

        plain, dedup = by.get(FAILOVER), by.get(DEDUP)
        if plain is None:
            plain, dedup = dedup, None
        if plain is None:
            continue
        cells = [cell(by[name]) for name in (FAILOVER, DEDUP, BOTO3, TENACITY) if name in by]
        out.append(
            Headline(
                "queues",
                f"SQS {scenario} for part of a stream of sends: lost / delivered twice "
                "/ failed sends / send p99 during the fault",
                "; ".join(cells),
                "nothing acknowledged is lost; no duplicate with the dedup window",
                plain["lost"] == 0 and (dedup is None or (dedup["lost"] == 0 and dedup["delivered_twice"] == 0)),
            )
        )
    return out


def markdown(data: dict[str, Any]) -> str:
    env, size = data["environment"], data["parameters"]
    rows = [
        [
            r["scenario"],
            r["contender"],
            r["sends_attempted"],
            r["acknowledged"],
            r["send_errors"],
            r["delivered"],
            r["lost"],
            r["delivered_twice"],
            r["fault_send_ms"]["p99"],
            r["fault_send_ms"]["max"],
        ]
        for r in data["runs"]
    ]
    table = markdown_table(
        [
            "fault",
            "client",
            "sends",
            "acknowledged",
            "send errors",
            "delivered",
            "lost",
            "delivered twice",
            "send p99 ms (fault)",
            "send max ms (fault)",
        ],
        rows,
    )
    return "\n\n".join(
        [
            "# Queues: SQS fails in the middle of a stream of sends",
            f"{env['date']}, {env['cpu_count']} CPUs, Python {env['python']}, load {env['load_average_1_5_15']}, "
            f"whole run {data['wall_clock_s']:.0f} s. {size['messages']} sends paced at {size['rate']:g}/s; SQS "
            f"(moto) fails before send {size['fault_at']} for {size['fault_seconds']:g} s, then heals; Azure Queue "
            "(Azurite) beside it. Lost: acknowledged, never delivered. Delivered twice: deliveries beyond an id's "
            "first.",
            table,
            headlines_markdown([Headline(**row) for row in data["headlines"]]),
            "A send that raised is not lost: the application knows it failed (and, without a fallback, must keep "
            "the message itself). In the hang, a send that timed out on SQS is sent again to Azure with the same "
            "`failover_id`, and the stalled request reaches SQS when the fault clears: the message exists twice, "
            "and the dedup window drops the second delivery. boto3's default read timeout (60 s) outlasts this "
            "hang, so its sends wait for it instead.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__.splitlines()[0] if __doc__ else NAME, argv)
    size = QUICK if options.quick else FULL
    env = environment()
    started = time.perf_counter()
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="failover-queues-") as directory,
        LocalClouds(("aws", "azure"), log_dir=Path(directory)) as clouds,
        DnsFaults() as dns,
    ):
        for scenario in size.scenarios:
            for contender in size.contenders:
                say(f"queues: {scenario} / {contender}")
                runs.append(run_one(clouds, dns, size, scenario, contender, Path(directory)))
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": options.quick,
        "parameters": asdict(size),
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

"""The fleet chaos run: writer and consumer processes on the local clouds, one PostgreSQL between them.

``python -m failover.testing.fleet_chaos [--processes N] [--seconds S] [--seed K]``

N writer processes (default 4) each run a `FailoverStorage` over S3 (moto) and GCS (fake-gcs-server)
with the fleet's journal, writing and reading a small shared key space (so writers of one key in
different processes race), and send messages, each one twice with one id to two SQS queues (the
re-send around a failover). Two consumer processes receive from both queues through the fleet's
dedup window. Meanwhile a seeded schedule cuts moto off, SIGKILLs a writer mid-run (and starts another
in its place), pauses PostgreSQL, and cuts fake-gcs-server off (outages are refused connections at a
`FaultProxy`). At the end a replicator drains the
fleet's journal (settling the intents of the killed writer) and the run checks, from every
process's history:

- acknowledged writes lost: a key whose newest acknowledged version is not on both stores;
- stale reads: a read that returned a version older than one acknowledged before the read began;
- not converged: a key whose two stores hold different versions;
- messages lost (an acknowledged send no consumer handed on) and handed twice (apart from those
  whose first ack failed: redelivered and handed again, at-least-once by design).

Prints the report as JSON; exits 1 when any count is not 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from failover.config import GcsConfig, S3Config, SqsConfig
from failover.config.sections import DEFAULT_DRAIN_INTERVAL
from failover.errors import FailoverError, JournalError
from failover.fleet import Fleet, FleetConfig
from failover.interfaces import ObjectStore
from failover.replication.journal import Journal
from failover.replication.replicator import Replicator
from failover.testing.emulators import LocalClouds, PostgresServer
from failover.testing.faults import Fault, FaultProxy

__all__ = ["main", "run"]

KEYS = 12
VISIBILITY = 5
LINGER = DEFAULT_DRAIN_INTERVAL + VISIBILITY + 3.0
"""Seconds consumers go on receiving after the writers stop. A message left on the second queue only
(a send to the first failed, or a receive that took it failed before handing it on) is hidden for its
visibility, and a queue that answered empty is next drained by the sweep, once a drain interval: the
bound on its delivery that the run must wait out, and some slack."""
_spawn = multiprocessing.get_context("spawn")
_INTENT_GRACE_PASSED = 3600.0  # seconds the final drain's clock runs ahead, past every intent's expiry


def _stores(s3: S3Config, gcs: GcsConfig) -> list[ObjectStore]:
    from failover.adapters.aws.s3 import S3Store
    from failover.adapters.gcp.gcs import GcsStore

    return [S3Store(s3), GcsStore(gcs)]


def _log(path: Path) -> Any:
    return open(path, "a", buffering=1, encoding="utf-8")  # one line a record, flushed at once


def _writer(index: int, fleet: FleetConfig, s3: S3Config, gcs: GcsConfig, queues: list[SqsConfig], clock: Any,
            history: Path) -> None:  # fmt: skip
    from failover.adapters.aws.sqs import SqsQueue
    from failover.queue import FailoverQueue
    from failover.storage import FailoverStorage

    rng = random.Random(index)
    with Fleet(fleet, state_dir=history.parent / "state") as shared, _log(history / f"writer-{index}.jsonl") as out:
        storage = FailoverStorage(_stores(s3, gcs), journal=shared.journal)
        senders = [FailoverQueue([SqsQueue(config)]) for config in queues]
        until = _ready_and_wait(clock)
        sent = 0
        while time.time() < until:
            key = f"k{rng.randrange(KEYS):02d}"
            began = time.monotonic()
            try:
                info = storage.put(key, f"{index}-{sent}-{rng.random()}".encode())
                out.write(json.dumps({"ack": key, "v": info.version, "t0": began, "t1": time.monotonic()}) + "\n")
            except FailoverError:
                pass
            key = f"k{rng.randrange(KEYS):02d}"
            began = time.monotonic()
            try:
                read = storage.head(key)
                out.write(json.dumps({"read": key, "v": read.version, "t0": began}) + "\n")
            except FailoverError:
                pass
            message_id = f"w{index}-m{sent}"
            delivered = 0
            for sender in senders:  # the same message to both queues: a re-send around a failover
                try:
                    sender.send(message_id.encode(), dedup_id=message_id)
                    delivered += 1
                except FailoverError:
                    pass
            if delivered:
                out.write(json.dumps({"sent": message_id}) + "\n")
            sent += 1
        for sender in senders:
            sender.close()
        storage.close()


def _consumer(
    index: int, fleet: FleetConfig, queues: list[SqsConfig], clock: Any, history: Path, linger: float
) -> None:
    from failover.adapters.aws.sqs import SqsQueue
    from failover.queue import FailoverQueue

    with Fleet(fleet, state_dir=history.parent / "state") as shared, _log(history / f"consumer-{index}.jsonl") as out:
        queue = FailoverQueue([SqsQueue(config) for config in queues], dedup=shared.dedup_window(ttl=3600))
        until = _ready_and_wait(clock) + linger
        while time.time() < until:
            try:
                messages = queue.receive(10, wait=0.5, visibility=VISIBILITY)
            except FailoverError:
                time.sleep(0.2)
                continue
            for message in messages:
                # Handed on, then acked; which copy, which delivery of it, and when, for the post-mortem.
                copy = {"q": message.queue, "id": message.id, "n": message.delivery_count, "t": time.monotonic()}
                out.write(json.dumps({"handed": message.dedup_id, **copy}) + "\n")
                try:
                    queue.ack(message)
                except FailoverError:  # it comes back and is handed on again: at-least-once, by design
                    out.write(json.dumps({"ack_failed": message.dedup_id}) + "\n")
                else:
                    if queue.pending_acks:  # kept for a retry: a redelivery meanwhile is dropped
                        out.write(json.dumps({"ack_deferred": message.dedup_id, "t": time.monotonic()}) + "\n")
        queue.close()


def _left_in_queues(queues: Sequence[SqsConfig]) -> set[str]:
    """The ids of the messages still in the queues after the consumers stopped, read straight from
    SQS until each answered empty past a visibility timeout (a copy a consumer took and never acked
    is hidden until then). A message there was not handed on in time, but it is not lost."""
    from failover.adapters.aws.sqs import SqsQueue

    found: set[str] = set()
    with contextlib.ExitStack() as stack:
        adapters = [stack.enter_context(contextlib.closing(SqsQueue(config))) for config in queues]
        quiet_until = time.monotonic() + VISIBILITY + 1.0  # both queues in one wait, not one after the other
        while time.monotonic() < quiet_until:
            for queue in adapters:
                messages = queue.receive(10, wait=0.5, visibility=30)
                found.update(message.dedup_id or "" for message in messages)
                if messages:
                    quiet_until = max(quiet_until, time.monotonic() + 1.0)
    return found


def _ready_and_wait(clock: Any) -> float:
    """Report ready, wait for the start (processes import and connect at different speeds); the end."""
    ready, go, end = clock
    ready.put(os.getpid())
    go.wait()
    return float(end.value)


def _histories(history: Path, prefix: str) -> list[dict[str, Any]]:
    records = []
    for path in sorted(history.glob(f"{prefix}-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):  # the line a SIGKILL cut short
                records.append(json.loads(line))
    return records


def _check(
    history: Path,
    stores: Sequence[ObjectStore],
    outage: tuple[float, float] = (0.0, 0.0),
    queued: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    writes = _histories(history, "writer")
    acks = [record for record in writes if "ack" in record]
    reads = [record for record in writes if "read" in record]
    newest: dict[str, str] = {}
    for ack in acks:
        newest[ack["ack"]] = max(newest.get(ack["ack"], ""), ack["v"])
    lost, diverged = [], []
    for key, version in newest.items():
        held = []
        for store in stores:
            try:
                held.append(store.head(key).version or "")
            except FailoverError:
                held.append("")
        if any(v < version for v in held):
            lost.append(key)
        if len(set(held)) > 1:
            diverged.append(key)
    stale = stale_in_outage = 0
    details: list[str] = []  # what failed, for the post-mortem
    for read in reads:
        before = [ack["v"] for ack in acks if ack["ack"] == read["read"] and ack["t1"] < read["t0"]]
        if before and (read["v"] or "") < max(before):
            stale += 1
            stale_in_outage += outage[0] <= read["t0"] <= outage[1]
            details.append(f"stale read of {read['read']} at {read['t0']:.3f}: {read['v']} < {max(before)}")
    sent = {record["sent"] for record in writes if "sent" in record}
    consumed = _histories(history, "consumer")
    handed = Counter(record["handed"] for record in consumed if "handed" in record)
    ack_failed = {record["ack_failed"] for record in consumed if "ack_failed" in record}
    details += [f"write lost: {key}" for key in lost] + [f"not converged: {key}" for key in diverged]
    late = (sent - set(handed)) & queued
    lost_messages = sent - set(handed) - queued
    details += [f"message lost: {id_}" for id_ in sorted(lost_messages)]
    details += [f"message still queued after the consumers stopped: {id_}" for id_ in sorted(late)]
    details += [f"handed {count} times: {id_}" for id_, count in handed.items() if count > 1]
    return {
        "details": details[:50],
        "acknowledged_writes": len(acks),
        "reads": len(reads),
        "messages_sent": len(sent),
        "acknowledged_writes_lost": len(lost),
        "stale_reads": stale,
        # Of them, begun while the database was paused (or resting after): only this process's
        # pending writes are known then, by design.
        "stale_reads_during_the_database_outage": stale_in_outage,
        "keys_not_converged": len(diverged),
        "messages_lost": len(lost_messages),
        "messages_still_queued_at_the_end": len(late),
        "messages_handed_twice": sum(1 for id_, count in handed.items() if count > 1 and id_ not in ack_failed),
        # Handed again after the ack of the first hand-over failed: the window cannot know it was processed.
        "messages_handed_again_after_a_failed_ack": sum(
            1 for id_, count in handed.items() if count > 1 and id_ in ack_failed
        ),
    }


def _final_drain(
    stores: Sequence[ObjectStore], journal: Journal, timeout: float = 60.0, backlog: Callable[[], int] | None = None
) -> None:
    """Every writer has stopped: the intents left are of writers that died mid-write, settled at once
    (the background replicator settles one when its grace, a minute, has run out); then drains until
    ``backlog()`` is 0 or ``timeout`` passes. A drain ends when a pass finds nothing to do, and a
    spooling journal whose database did not answer (a slow call on a loaded machine) shows only
    its spool: so the drain is repeated while the database's own count says items are left."""
    replicator = Replicator(
        {store.name: store for store in stores},
        journal,
        poll_interval=0.2,
        wall=lambda: time.time() + _INTENT_GRACE_PASSED,
    )
    count = backlog if backlog is not None else lambda: sum(journal.backlog().values())
    deadline = time.monotonic() + timeout
    while True:
        replicator.drain(timeout=max(0.1, deadline - time.monotonic()))
        try:
            left = count()
        except JournalError:
            left = -1  # unknown
        if left == 0 or time.monotonic() >= deadline:
            return
        time.sleep(0.5)


def _retrying(count: Callable[[], int], attempts: int = 10) -> int:
    """``count()``, tried again (every half second) while the database does not answer."""
    for _ in range(attempts - 1):
        try:
            return count()
        except JournalError:
            time.sleep(0.5)
    return count()


def run(processes: int, seconds: float, seed: int, workdir: Path, *, linger: float = LINGER) -> dict[str, Any]:
    rng = random.Random(seed)
    name = f"chaos-{seed}-{os.getpid()}"
    history = workdir / "history"
    history.mkdir(parents=True, exist_ok=True)
    with LocalClouds(("aws", "gcs"), log_dir=workdir / "logs") as clouds, PostgresServer(log_dir=workdir) as pg:
        pg.start()
        fleet = FleetConfig(dsn=pg.dsn, schema_name="chaos", call_timeout=1.0, retry_after=0.5, lease=5.0)
        # Outages are refused connections at a proxy: stopping moto would wipe its memory, a data loss
        # no cloud outage causes.
        proxies = {"aws": FaultProxy.in_front_of(clouds.aws.endpoint).start()}
        proxies["gcs"] = FaultProxy.in_front_of(clouds.gcs.endpoint).start()
        s3 = clouds.aws.s3_config(name, endpoint_url=proxies["aws"].endpoint)
        gcs = clouds.gcs.gcs_config(name, endpoint_url=proxies["gcs"].endpoint)
        queues = [clouds.aws.sqs_config(f"{name}-{n}", endpoint_url=proxies["aws"].endpoint) for n in range(2)]
        # The run's own state directory: the spool every process of this host shares (and that a killed
        # one leaves to the others) must not be another run's, whose stores this run does not know.
        with Fleet(fleet, state_dir=workdir / "state"):  # migrates the schema once, before the processes race
            for store in _stores(s3, gcs):
                store.close()
        clock = (_spawn.Queue(), _spawn.Event(), _spawn.Value("d", 0.0))
        writers = {
            n: _spawn.Process(target=_writer, args=(n, fleet, s3, gcs, queues, clock, history))
            for n in range(processes)
        }
        consumers = [
            _spawn.Process(target=_consumer, args=(n, fleet, queues, clock, history, linger)) for n in range(2)
        ]
        for process in [*writers.values(), *consumers]:
            process.start()
        for _ in range(processes + len(consumers)):
            clock[0].get(timeout=300)
        started = time.time()
        clock[2].value = started + seconds
        clock[1].set()
        schedule = sorted(
            [
                (0.2 + 0.1 * rng.random(), "aws"),
                (0.35 + 0.1 * rng.random(), "kill"),
                (0.55 + 0.1 * rng.random(), "postgres"),
                (0.75 + 0.1 * rng.random(), "gcs"),
            ]
        )
        events = []
        outage: tuple[float, float] = (0.0, 0.0)  # the database's, on the monotonic clock of every process
        for fraction, event in schedule:
            time.sleep(max(0.0, started + fraction * seconds - time.time()))
            events.append(event)
            if event == "kill":
                victim = writers[rng.randrange(processes)]
                if victim.pid is not None:
                    os.kill(victim.pid, signal.SIGKILL)
                replacement = processes + len(events)
                writers[replacement] = _spawn.Process(
                    target=_writer, args=(replacement, fleet, s3, gcs, queues, clock, history)
                )
                writers[replacement].start()
            elif event == "postgres":
                paused = time.monotonic()
                pg.pause()
                time.sleep(1.5)
                pg.resume()
                outage = (paused, time.monotonic() + fleet.call_timeout + fleet.retry_after)
            else:
                proxies[event].set(Fault.refuse())
                time.sleep(1.5)
                proxies[event].clear()
        for process in [*writers.values(), *consumers]:
            process.join(timeout=seconds + linger + 120)
        stores = _stores(s3, gcs)
        with Fleet(fleet, state_dir=workdir / "state") as shared:
            journal = shared.journal

            def backlog() -> int:  # the database's own count: an unreachable one is an error, not 0
                return sum(journal.primary.backlog().values()) + journal.spooled()

            _final_drain(stores, journal, backlog=backlog)
            report = _check(history, stores, outage, frozenset(_left_in_queues(queues)))
            report["journal_backlog_left"] = _retrying(backlog)
            report["journal_items_left"] = [
                f"{item.key} {item.store} attempts={item.attempts} {item.last_error}"
                for key in sorted({f"k{n:02d}" for n in range(KEYS)})
                for item in shared.journal.primary.items(key)
            ][:20]
        for store in stores:
            store.close()
        for proxy in proxies.values():
            proxy.stop()
    report.update({"processes": processes, "seconds": seconds, "seed": seed, "events": events})
    return report


FAILURES = (
    "acknowledged_writes_lost",
    "stale_reads",
    "keys_not_converged",
    "messages_lost",
    "messages_handed_twice",
    "journal_backlog_left",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=4, help="writer processes (default 4)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the writers write (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="the schedule's seed (default 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="failover-fleet-chaos-") as workdir:
        report = run(args.processes, args.seconds, args.seed, Path(workdir))
    print(json.dumps(report, indent=1))
    return 1 if any(report[name] for name in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())

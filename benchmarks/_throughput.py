"""Throughput on moto: raw boto3 against S3Store and FailoverStorage([S3Store, GcsStore]).

FailoverStorage runs three ways: replication off with its default (SQLite) journal, replication on
(the default), and replication off with an in-memory journal (`benchmarks._journal`), which shows
what the durable journal's fsync costs the same workload.

Every contender is measured in the same run, interleaved: each round measures every (operation,
thread count) for every contender, in an order rotated from round to round, so that the noise of a
shared machine falls on all of them alike. A contender's number is the median of its rounds' ops/s;
the result is that median over raw boto3's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from benchmarks._common import median, percentile, say
from benchmarks._journal import MemoryJournal
from failover.adapters.aws import S3Store
from failover.adapters.gcp import GcsStore
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds

__all__ = ["NOT_DURABLE", "QUIET", "RAW", "REPLICATING", "ThroughputSize", "measure_throughput"]

RAW = "raw boto3 (default config)"
QUIET = "FailoverStorage (replication off)"
REPLICATING = "FailoverStorage (replication on, the default)"
NOT_DURABLE = "FailoverStorage (replication off, in-memory journal)"
S3_BUCKET = "bench-throughput"
GCS_BUCKET = "bench-throughput"
KEYS = 100
BODY = bytes(range(256)) * 4  # 1 KiB
OPERATIONS = ("get", "put")


@dataclass(frozen=True)
class ThroughputSize:
    ops_one_thread: int
    ops_many_threads: int
    rounds: int
    threads: tuple[int, ...] = (1, 8)

    def ops(self, threads: int) -> int:
        return self.ops_one_thread if threads == 1 else self.ops_many_threads


@dataclass(frozen=True)
class Contender:
    name: str
    get: Callable[[str], object]
    put: Callable[[str, bytes], object]
    settle: Callable[[], object]  # after each measurement, untimed (drains a replicator's backlog)
    close: Callable[[], None]
    prefix: str


def _nothing() -> None:
    return None


def _contenders(clouds: LocalClouds) -> list[Contender]:
    aws, gcs = clouds.aws, clouds.gcs
    s3_store = S3Store(aws.s3_config(S3_BUCKET))  # ensure=True: creates the bucket
    # The raw SDK as a user would have it: one client, boto3's default configuration.
    raw = boto3.client(
        "s3",
        endpoint_url=aws.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def raw_get(key: str) -> bytes:
        return raw.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()

    def raw_put(key: str, data: bytes) -> object:
        return raw.put_object(Bucket=S3_BUCKET, Key=key, Body=data)

    def failover(name: str, replicate: bool, journal: MemoryJournal | None = None) -> FailoverStorage:
        stores: list[ObjectStore] = [
            S3Store(aws.s3_config(S3_BUCKET, name=f"aws-{name}")),
            GcsStore(gcs.gcs_config(GCS_BUCKET)),
        ]
        return FailoverStorage(stores, replicate=replicate, journal=journal)

    quiet = failover("quiet", replicate=False)
    replicating = failover("replicating", replicate=True)
    not_durable = failover("not-durable", replicate=False, journal=MemoryJournal())
    return [
        Contender(RAW, raw_get, raw_put, _nothing, raw.close, "raw"),
        Contender("S3Store", s3_store.get_bytes, s3_store.put, _nothing, s3_store.close, "s3store"),
        Contender(QUIET, quiet.get_bytes, quiet.put, _nothing, quiet.close, "fs-quiet"),
        Contender(
            REPLICATING,
            replicating.get_bytes,
            replicating.put,
            lambda: replicating.drain(timeout=120),
            replicating.close,
            "fs-replicating",
        ),
        Contender(NOT_DURABLE, not_durable.get_bytes, not_durable.put, _nothing, not_durable.close, "fs-memjournal"),
    ]


def _keys(contender: Contender, operation: str, count: int) -> list[str]:
    return [f"{contender.prefix}/{operation}/{index % KEYS:03d}" for index in range(count)]


def _run(contender: Contender, operation: str, keys: Sequence[str], threads: int) -> float:
    """Seconds for ``keys`` (split among ``threads``) to go through ``operation``; re-raises a worker's error."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def work(share: Sequence[str]) -> None:
        barrier.wait()
        try:
            if operation == "get":
                for key in share:
                    contender.get(key)
            else:
                for key in share:
                    contender.put(key, BODY)
        except BaseException as exc:
            errors.append(exc)

    workers = [
        threading.Thread(target=work, args=(keys[index::threads],), name=f"bench-{index}") for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{contender.name} {operation} failed in a worker thread") from errors[0]
    return elapsed


def measure_throughput(clouds: LocalClouds, size: ThroughputSize) -> dict[str, Any]:
    contenders = _contenders(clouds)
    try:
        for contender in contenders:  # untimed: the objects to get, the clients and connections warm
            _run(contender, "put", _keys(contender, "get", KEYS), 1)
            _run(contender, "get", _keys(contender, "get", 2 * max(size.threads)), max(size.threads))
            _run(contender, "put", _keys(contender, "put", 2 * max(size.threads)), max(size.threads))
            contender.settle()
        samples: dict[str, dict[int, dict[str, list[float]]]] = {
            operation: {threads: {c.name: [] for c in contenders} for threads in size.threads}
            for operation in OPERATIONS
        }
        for round_index in range(size.rounds):
            say(f"overhead: throughput round {round_index + 1}/{size.rounds}")
            order = contenders[round_index % len(contenders) :] + contenders[: round_index % len(contenders)]
            for operation in OPERATIONS:
                for threads in size.threads:
                    count = size.ops(threads)
                    for contender in order:
                        elapsed = _run(contender, operation, _keys(contender, operation, count), threads)
                        samples[operation][threads][contender.name].append(count / elapsed)
                        contender.settle()
    finally:
        for contender in contenders:
            contender.close()
    return _summary(samples, [c.name for c in contenders])


def _summary(samples: dict[str, dict[int, dict[str, list[float]]]], names: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for operation, by_threads in samples.items():
        results[operation] = {}
        for threads, by_name in by_threads.items():
            raw_rounds = by_name[RAW]
            raw = median(raw_rounds)
            entry: dict[str, Any] = {}
            for name, values in by_name.items():
                # Each round's ratio to raw boto3's rate in the same round: its spread shows the noise.
                paired = [value / base for value, base in zip(values, raw_rounds, strict=True)]
                entry[name] = {
                    "median_ops_per_s": median(values),
                    "ratio_to_raw": _ratio(median(values), raw),
                    "paired_ratio_median": median(paired),
                    "paired_ratio_iqr": [percentile(paired, 25), percentile(paired, 75)],
                    "ratio_each_round": [round(value, 3) for value in paired],
                    "ops_per_s_each_round": [round(value, 1) for value in values],
                }
            results[operation][str(threads)] = entry
    return {"contenders": names, "baseline": RAW, "results": results}


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or not baseline else value / baseline

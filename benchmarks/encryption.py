"""Encryption: what `EncryptedStorage` costs in CPU, in put/get rate on the emulators, and in memory.

(a) One core, no store: sealing and opening 64 MiB in 64 KiB segments (AES-256-GCM), against a
    sha256 pass over the same bytes (what every put already pays once); MiB per second of this thread's
    CPU time (so that a loaded machine's waits for a core do not count), median of repetitions.
(b) put and get of 1 KiB, 1 MiB and 64 MiB objects on moto's S3, through ``S3Store`` and through
    ``EncryptedStorage(S3Store)``, interleaved round by round so that the noise of a shared machine
    falls on both; the result is each size's median rate and its ratio, encrypted over plain.
(c) Where the time goes: this process's CPU time per operation in (b), with and without encryption.
(d) Python memory at peak (tracemalloc) of a 64 MiB put from a file and a streamed get, both ways.

``python -m benchmarks.encryption [--quick] [--out DIR]`` writes encryption.json, .md and .png.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import (
    environment,
    local_clouds,
    markdown_table,
    median,
    parse_options,
    pyplot,
    say,
    write_results,
)
from failover.adapters.aws import S3Store
from failover.crypto import EncryptedStorage, Keyring, LocalKey
from failover.crypto._format import SEGMENT_SIZE, ObjectKeys, ciphertext_size, segment_count
from failover.crypto._opening import open_range
from failover.crypto._stream import SealedBody
from failover.interfaces import ObjectStore

__all__ = ["main"]

NAME = "encryption"
KiB, MiB = 1024, 1024 * 1024
PLAIN, ENCRYPTED = "S3Store", "EncryptedStorage(S3Store)"
GOAL = 0.10  # at 64 MiB, encryption may cost at most 10% of the put/get rate
BUCKET = "bench-encryption"


@dataclass(frozen=True)
class Size:
    cpu_bytes: int
    cpu_repetitions: int
    objects: tuple[tuple[int, int], ...]  # (object size, operations per round)
    rounds: int
    memory_bytes: int


FULL = Size(64 * MiB, 5, ((KiB, 100), (MiB, 20), (64 * MiB, 2)), 9, 64 * MiB)
QUICK = Size(2 * MiB, 2, ((KiB, 10), (64 * KiB, 4), (MiB, 2)), 1, 2 * MiB)


def _keys() -> Keyring:
    return Keyring([LocalKey.generate("bench")], active="bench")


def measure_cpu(size: Size) -> dict[str, Any]:
    """MiB per CPU second of sealing, opening and hashing ``size.cpu_bytes`` on this thread (one core)."""
    data = os.urandom(size.cpu_bytes)
    salt, prefix = os.urandom(32), os.urandom(7)
    keys = ObjectKeys(os.urandom(32), salt=salt, prefix=prefix, key="bench/cpu", key_id="bench")
    ciphertext = SealedBody(data, keys).read()
    count = segment_count(len(data))

    def seal() -> None:  # what a put of bytes does, its sha256 aside: seal every segment into one buffer
        target, source = memoryview(bytearray(len(ciphertext))), memoryview(data)
        for index in range(count):
            at = index * (SEGMENT_SIZE + 16)
            piece = source[index * SEGMENT_SIZE : (index + 1) * SEGMENT_SIZE]
            keys.seal_segment_into(index, index == count - 1, piece, target[at : at + len(piece) + 16])

    def open_all() -> None:  # what a get does, from S3's 64 KiB chunks
        chunks = (ciphertext[i : i + 64 * KiB] for i in range(0, len(ciphertext), 64 * KiB))
        for _ in open_range(keys, chunks, first=0, count=count, ciphertext=len(ciphertext), start=0, stop=len(data)):
            pass

    def sha256() -> None:
        hashlib.sha256(data).hexdigest()

    jobs: dict[str, Callable[[], None]] = {"encrypt": seal, "decrypt": open_all, "sha256 (reference)": sha256}
    rates: dict[str, list[float]] = {name: [] for name in jobs}
    for repetition in range(size.cpu_repetitions):
        say(f"encryption: cpu repetition {repetition + 1}/{size.cpu_repetitions}")
        for name, job in jobs.items():
            started = time.thread_time()
            job()
            rates[name].append(size.cpu_bytes / MiB / (time.thread_time() - started))
    return {
        name: {"median_mib_per_s": median(values), "each": [round(v, 1) for v in values]}
        for name, values in rates.items()
    }


def _one_rate(
    store: ObjectStore, operation: str, size: int, count: int, body: bytes, prefix: str
) -> tuple[float, float]:
    """MiB/s, and this process's CPU time per operation in ms (every thread; the emulator runs apart)."""
    started, cpu = time.perf_counter(), time.process_time()
    for index in range(count):
        key = f"{prefix}/{size}/{index}"
        if operation == "put":
            store.put(key, body)
        else:
            with store.get(key) as reader:
                for _ in reader:
                    pass
    return count * size / MiB / (time.perf_counter() - started), 1000 * (time.process_time() - cpu) / count


def measure_rates(stores: dict[str, ObjectStore], size: Size) -> dict[str, Any]:
    """MiB/s of put and get per object size and contender, rounds interleaved, and the ratios."""
    bodies = {object_size: os.urandom(object_size) for object_size, _ in size.objects}
    names = list(stores)
    samples: dict[str, dict[int, dict[str, list[float]]]] = {
        op: {s: {n: [] for n in names} for s, _ in size.objects} for op in ("put", "get")
    }
    cpu: dict[str, dict[int, dict[str, list[float]]]] = {
        op: {s: {n: [] for n in names} for s, _ in size.objects} for op in ("put", "get")
    }
    for name, store in stores.items():  # untimed: the objects to get exist, connections are warm
        for object_size, count in size.objects:
            _one_rate(store, "put", object_size, count, bodies[object_size], name)
    for round_index in range(size.rounds):
        say(f"encryption: put/get round {round_index + 1}/{size.rounds}")
        order = names[round_index % 2 :] + names[: round_index % 2]
        for object_size, count in size.objects:
            for operation in ("put", "get"):
                for name in order:
                    rate, cpu_ms = _one_rate(stores[name], operation, object_size, count, bodies[object_size], name)
                    samples[operation][object_size][name].append(rate)
                    cpu[operation][object_size][name].append(cpu_ms)
    results: dict[str, Any] = {}
    for operation, by_size in samples.items():
        results[operation] = {}
        for object_size, by_name in by_size.items():
            plain, encrypted = median(by_name[PLAIN]), median(by_name[ENCRYPTED])
            paired = [e / p for e, p in zip(by_name[ENCRYPTED], by_name[PLAIN], strict=True)]
            results[operation][str(object_size)] = {
                "plain_mib_per_s": plain,
                "encrypted_mib_per_s": encrypted,
                "ratio": encrypted / plain if plain and encrypted else None,
                "paired_ratio_median": median(paired),
                "ratio_each_round": [round(value, 3) for value in paired],
                "plain_client_cpu_ms": median(cpu[operation][object_size][PLAIN]),
                "encrypted_client_cpu_ms": median(cpu[operation][object_size][ENCRYPTED]),
            }
    return results


def measure_memory(stores: dict[str, ObjectStore], size: int) -> dict[str, Any]:
    """Python memory at peak (MiB) of a put from a file of ``size`` bytes and a streamed get."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryFile() as source:
        for _ in range(size // MiB):
            source.write(os.urandom(MiB))
        for name, store in stores.items():
            source.seek(0)
            tracemalloc.start()
            try:
                store.put(f"memory/{name}", source)
                _, put_peak = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                with store.get(f"memory/{name}") as reader:
                    for _ in reader:
                        pass
                _, get_peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            out[name] = {"put_peak_mib": put_peak / MiB, "get_peak_mib": get_peak / MiB}
    return out


def _label(size: int) -> str:
    return f"{size // MiB} MiB" if size >= MiB else f"{size // KiB} KiB"


def _markdown(data: dict[str, Any], size: Size) -> str:
    env = data["environment"]
    cpu, rates, memory = data["cpu"], data["rates"], data["memory"]
    lines = [
        "# Encryption: what EncryptedStorage costs",
        "",
        f"{env['date']}, {env['cpu_count']} CPUs, Python {env['python']}, load average "
        f"{env['load_average_1_5_15'][0]} at the start (a shared machine: compare only ratios measured in the"
        " same run). Raw numbers and package versions: `encryption.json`.",
        "",
        f"## (a) One core, {_label(size.cpu_bytes)} in 64 KiB segments, no store",
        "",
        markdown_table(
            ["operation", "MiB per CPU second (median)"], [[name, v["median_mib_per_s"]] for name, v in cpu.items()]
        ),
        "",
        "## (b) put and get on moto's S3 (one thread)",
        "",
    ]
    rows = []
    for operation in ("put", "get"):
        for object_size, _ in size.objects:
            entry = rates[operation][str(object_size)]
            cost = None if entry["ratio"] is None else 100 * (1 - entry["ratio"])
            rows.append(
                [
                    operation,
                    _label(object_size),
                    entry["plain_mib_per_s"],
                    entry["encrypted_mib_per_s"],
                    entry["ratio"],
                    cost,
                ]
            )
    lines.append(
        markdown_table(["operation", "object", f"{PLAIN} MiB/s", f"{ENCRYPTED} MiB/s", "ratio", "cost %"], rows)
    )
    largest = str(size.objects[-1][0])
    costs = {op: 1 - (rates[op][largest]["ratio"] or 0) for op in ("put", "get")}
    verdict = "within" if all(cost < GOAL for cost in costs.values()) else "outside"
    lines += [
        "",
        f"At {_label(size.objects[-1][0])}, encryption costs {100 * costs['put']:.1f}% of the put rate and"
        f" {100 * costs['get']:.1f}% of the get rate: {verdict} the goal of {100 * GOAL:.0f}%. Medians of"
        f" {size.rounds} interleaved rounds. Both are CPU work on top of the emulator's own (part (c)), so on a"
        " loaded machine the share grows with the load: compare part (a) with an idle core's AES-GCM.",
        "",
        "## (c) Where the time goes: this process's CPU per operation (medians; the emulator runs apart)",
        "",
        markdown_table(
            ["operation", "object", f"{PLAIN} CPU ms", f"{ENCRYPTED} CPU ms", "added ms", "AES-GCM alone ms (a)"],
            [
                [
                    operation,
                    _label(object_size),
                    rates[operation][str(object_size)]["plain_client_cpu_ms"],
                    rates[operation][str(object_size)]["encrypted_client_cpu_ms"],
                    rates[operation][str(object_size)]["encrypted_client_cpu_ms"]
                    - rates[operation][str(object_size)]["plain_client_cpu_ms"],
                    1000 * object_size / MiB / cpu["encrypt" if operation == "put" else "decrypt"]["median_mib_per_s"],
                ]
                for operation in ("put", "get")
                for object_size, _ in size.objects
                if object_size >= MiB
            ],
        ),
        "",
        "A put of bytes adds the plaintext's sha256 (in a worker thread, beside the sealing) and AES-GCM; the"
        " ciphertext's sha256 replaces the plain store's. A get adds AES-GCM and one copy of the ciphertext into"
        " batches of whole segments. What the emulator spends meanwhile is not counted here, so the added"
        " milliseconds over the plain store's wall time per operation are the cost in (b).",
        "",
        f"## (d) Python memory at peak, {_label(size.memory_bytes)} put from a file and streamed back",
        "",
        markdown_table(
            ["store", "put peak MiB", "get peak MiB"],
            [[name, v["put_peak_mib"], v["get_peak_mib"]] for name, v in memory.items()],
        ),
    ]
    return "\n".join(lines)


def _plot(data: dict[str, Any], size: Size, path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    labels = [_label(object_size) for object_size, _ in size.objects]
    for axis, operation in zip(axes, ("put", "get"), strict=True):
        entries = [data["rates"][operation][str(object_size)] for object_size, _ in size.objects]
        positions = range(len(labels))
        axis.bar([p - 0.2 for p in positions], [e["plain_mib_per_s"] for e in entries], 0.4, label=PLAIN)
        axis.bar([p + 0.2 for p in positions], [e["encrypted_mib_per_s"] for e in entries], 0.4, label=ENCRYPTED)
        axis.set_xticks(list(positions), labels)
        axis.set_yscale("log")
        axis.set_title(f"{operation} on moto S3")
        axis.set_ylabel("MiB/s (log)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__.splitlines()[0] if __doc__ else NAME, argv)
    size = QUICK if options.quick else FULL
    env = environment()
    cpu = measure_cpu(size)
    with local_clouds() as clouds:
        plain = S3Store(clouds.aws.s3_config(BUCKET))
        stores: dict[str, ObjectStore] = {PLAIN: plain, ENCRYPTED: EncryptedStorage(plain, _keys())}
        try:
            rates = measure_rates(stores, size)
            memory = measure_memory(stores, size.memory_bytes)
        finally:
            plain.close()
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": options.quick,
        "parameters": {
            **asdict(size),
            "segment_size": SEGMENT_SIZE,
            "overhead_64_mib": ciphertext_size(64 * MiB) - 64 * MiB,
        },
        "environment": env,
        "cpu": cpu,
        "rates": rates,
        "memory": memory,
    }
    for path in write_results(options.out, NAME, data, _markdown(data, size)):
        say(f"wrote {path}")
    _plot(data, size, options.out / f"{NAME}.png")
    say(f"wrote {options.out / f'{NAME}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

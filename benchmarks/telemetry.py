"""What telemetry costs a call: calls/s over memory stores, with OpenTelemetry absent, present, and enabled.

``FailoverStorage([MemoryStore, MemoryStore])`` with an in-memory journal and replication off (so
that the engine's path is most of what is timed), ``get_bytes`` and ``put`` of a 1 KiB object, in
loops like timeit's. Two comparisons, each as a ratio of medians over interleaved rounds:

(a) Absent against installed: the same uninstrumented loop in child processes, one where every
    ``opentelemetry`` import is blocked (the extra not installed) and one where it is importable;
    the rounds alternate which child starts. Each child also reports whether anything imported
    OpenTelemetry (it must not: the engine reports to a no-op `Observer`).
(b) Enabled against not: in one process, the same storage uninstrumented, instrumented with the
    API's no-op providers (the extra installed, no SDK configured), and instrumented with the SDK
    (a meter provider with a reader, a tracer provider that records every span; each alone, then
    both), rotated per round.

Also the hook alone: nanoseconds per ``engine.observer.start_call(...)`` on the default observer.
"""

from __future__ import annotations

import gc
import itertools
import json
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import environment, markdown_table, median, parse_options, say, write_results
from benchmarks._journal import MemoryJournal
from failover.adapters.memory import MemoryStore
from failover.storage import FailoverStorage

__all__ = ["main"]

NAME = "telemetry"
OPERATIONS = ("get_bytes", "put")
KEY = "bench/object-1k"
BODY = bytes(range(256)) * 4  # 1 KiB
ABSENT = "OpenTelemetry absent"
INSTALLED = "installed, not enabled"
OFF = "not instrumented"
API_ONLY = "instrumented, API no-op providers"
SDK = "instrumented, SDK (metrics + every span recorded)"
SDK_METRICS = "instrumented, SDK metrics, no-op traces"
SDK_TRACES = "instrumented, SDK traces, no-op metrics"
INSTRUMENTED = (API_ONLY, SDK_METRICS, SDK_TRACES, SDK)
_ROOT = Path(__file__).resolve().parent.parent
# Run in a child: blocks every opentelemetry import when asked, then times the uninstrumented loops.
_CHILD = """
import importlib.abc, json, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"{name} is blocked: the otel extra is absent")
        return None
if sys.argv[1] == "absent":
    sys.meta_path.insert(0, _Block())
from benchmarks.telemetry import child_rates
print(json.dumps(child_rates(int(sys.argv[2]), int(sys.argv[3]))))
"""


@dataclass(frozen=True)
class Size:
    get_calls: int
    put_calls: int
    rounds: int


FULL = Size(get_calls=10_000, put_calls=2_000, rounds=11)
QUICK = Size(get_calls=500, put_calls=100, rounds=2)


def _storage() -> FailoverStorage:
    storage = FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=MemoryJournal(), replicate=False)
    storage.put(KEY, BODY)
    return storage


def _call(storage: FailoverStorage, operation: str) -> Callable[[], object]:
    if operation == "get_bytes":
        return lambda: storage.get_bytes(KEY)
    return lambda: storage.put(KEY, BODY)


def _rate(call: Callable[[], object], calls: int) -> float:
    """Calls per CPU second of this process, in a bare loop with the garbage collector off.

    CPU time, not wall time: on a machine shared with other work, wall time mostly measures how
    often the scheduler ran someone else (rounds of the same code differed by 1.5x here).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        started = time.process_time()
        for _ in itertools.repeat(None, calls):
            call()
        return calls / (time.process_time() - started)
    finally:
        if collecting:
            gc.enable()


def child_rates(get_calls: int, put_calls: int) -> dict[str, Any]:
    """The uninstrumented loops' calls/s, in a child process (see ``_CHILD``)."""
    storage = _storage()
    try:
        for operation in OPERATIONS:
            _rate(_call(storage, operation), 100)
        rates = {
            "get_bytes": _rate(_call(storage, "get_bytes"), get_calls),
            "put": _rate(_call(storage, "put"), put_calls),
        }
    finally:
        storage.close()
    return {"rates": rates, "opentelemetry_imported": any(name.startswith("opentelemetry") for name in sys.modules)}


def measure_absent(size: Size) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {op: {ABSENT: [], INSTALLED: []} for op in OPERATIONS}
    imported: dict[str, bool] = {ABSENT: False, INSTALLED: False}
    for round_ in range(size.rounds):
        say(f"telemetry: child processes, round {round_ + 1}/{size.rounds}")
        order = [ABSENT, INSTALLED] if round_ % 2 == 0 else [INSTALLED, ABSENT]
        for variant in order:
            mode = "absent" if variant == ABSENT else "installed"
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, mode, str(size.get_calls), str(size.put_calls)],
                cwd=_ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            imported[variant] = imported[variant] or bool(result["opentelemetry_imported"])
            for operation in OPERATIONS:
                samples[operation][variant].append(float(result["rates"][operation]))
    return {
        "calls_per_second": _summaries(samples),
        "ratio_installed_to_absent": {op: _ratio(samples[op][INSTALLED], samples[op][ABSENT]) for op in OPERATIONS},
        "opentelemetry_imported": imported,
    }


@contextmanager
def _variants() -> Iterator[dict[str, FailoverStorage]]:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import NoOpTracerProvider

    from failover.telemetry import instrument

    storages = {name: _storage() for name in (OFF, *INSTRUMENTED)}
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    tracer_provider = TracerProvider()  # every span sampled and recorded; no processor exports it
    providers: dict[str, tuple[Any, Any]] = {
        API_ONLY: (NoOpMeterProvider(), NoOpTracerProvider()),
        SDK_METRICS: (meter_provider, NoOpTracerProvider()),
        SDK_TRACES: (NoOpMeterProvider(), tracer_provider),
        SDK: (meter_provider, tracer_provider),
    }
    for name, (meters, tracers) in providers.items():
        instrument(storages[name], meter_provider=meters, tracer_provider=tracers)
    try:
        yield storages
    finally:
        for storage in storages.values():
            storage.close()
        meter_provider.shutdown()
        tracer_provider.shutdown()


def measure_enabled(size: Size) -> dict[str, Any]:
    with _variants() as storages:
        names = list(storages)
        samples: dict[str, dict[str, list[float]]] = {op: {name: [] for name in names} for op in OPERATIONS}
        for storage in storages.values():
            for operation in OPERATIONS:
                _rate(_call(storage, operation), 100)
        for round_ in range(size.rounds):
            say(f"telemetry: in process, round {round_ + 1}/{size.rounds}")
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for operation in OPERATIONS:
                calls = size.get_calls if operation == "get_bytes" else size.put_calls
                for name in order:
                    samples[operation][name].append(_rate(_call(storages[name], operation), calls))
    return {
        "calls_per_second": _summaries(samples),
        "ratio_to_not_instrumented": {
            op: {name: _ratio(samples[op][name], samples[op][OFF]) for name in INSTRUMENTED} for op in OPERATIONS
        },
        "added_us_per_call": {
            op: {name: _added_us(samples[op][name], samples[op][OFF]) for name in INSTRUMENTED} for op in OPERATIONS
        },
    }


def measure_hook() -> dict[str, float]:
    """Nanoseconds of the default observer's ``start_call`` and the engine's None check."""
    storage = _storage()
    try:
        engine = storage.engine
        calls = 1_000_000
        timer = time.process_time
        best = min(
            timeit.repeat(lambda: engine.observer.start_call("get") is None, timer=timer, number=calls, repeat=7)
        )
        empty = min(timeit.repeat(lambda: None, timer=timer, number=calls, repeat=7))
    finally:
        storage.close()
    return {"hook_ns": (best - empty) / calls * 1e9}


def _summaries(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    return {
        op: {
            name: {"median": median(values), "each_round": [round(value) for value in values]}
            for name, values in by.items()
        }
        for op, by in samples.items()
    }


def _ratio(values: Sequence[float], baseline: Sequence[float]) -> float | None:
    top, bottom = median(values), median(baseline)
    return None if top is None or not bottom else top / bottom


def _added_us(values: Sequence[float], baseline: Sequence[float]) -> float | None:
    rate, base = median(values), median(baseline)
    return None if not rate or not base else (1 / rate - 1 / base) * 1e6


def _markdown(data: dict[str, Any], size: Size) -> str:
    absent, enabled = data["absent"], data["enabled"]
    rows_a = [
        [
            op,
            absent["calls_per_second"][op][ABSENT]["median"],
            absent["calls_per_second"][op][INSTALLED]["median"],
            absent["ratio_installed_to_absent"][op],
        ]
        for op in OPERATIONS
    ]
    rows_b = [
        [
            name,
            *(
                value
                for op in OPERATIONS
                for value in (
                    enabled["calls_per_second"][op][name]["median"],
                    enabled["ratio_to_not_instrumented"][op].get(name, 1.0),
                    enabled["added_us_per_call"][op].get(name, 0.0),
                )
            ),
        ]
        for name in (OFF, *INSTRUMENTED)
    ]
    env = data["environment"]
    imported = absent["opentelemetry_imported"]
    return "\n\n".join(
        [
            "# Telemetry: what it costs a call",
            f"{env['platform']}, Python {env['python']}, {env['cpu_count']} CPUs (shared: load "
            f"{env['load_average_1_5_15']}), {env['date']}. `FailoverStorage` over two `MemoryStore`s, in-memory "
            f"journal, replication off, 1 KiB objects; calls per CPU second of the process (not wall time: "
            f"the machine is shared), medians of {size.rounds} interleaved rounds of {size.get_calls:,} gets "
            f"and {size.put_calls:,} puts.",
            "## (a) Extra absent against installed (uninstrumented, child processes)",
            markdown_table(["call", f"{ABSENT} calls/s", f"{INSTALLED} calls/s", "ratio"], rows_a),
            f"OpenTelemetry imported by an uninstrumented run: {imported[INSTALLED]} (installed), "
            f"{imported[ABSENT]} (absent). The default observer's hook costs "
            f"{data['hook']['hook_ns']:.0f} ns a call.",
            "## (b) Instrumented against not (one process)",
            markdown_table(
                ["", "get_bytes calls/s", "ratio", "added us", "put calls/s", "ratio", "added us"],
                rows_b,
            ),
            _where_the_time_goes(enabled["added_us_per_call"]["get_bytes"]),
        ]
    )


def _where_the_time_goes(added: dict[str, float | None]) -> str:
    def us(name: str) -> str:
        value = added.get(name)
        return "-" if value is None else f"{value:.0f} us"

    return (
        f"Where the time goes (a get): with the API alone, {us(API_ONLY)} is failover's observer itself "
        "(the attempt wrapper, timing, cached attribute sets, the no-op calls and the unrecorded span). "
        f"With the SDK, metrics alone add {us(SDK_METRICS)} (two histogram records a call; the SDK cleans "
        f"and hashes each measurement's attributes and offers an exemplar), a recorded span with its attempt "
        f"event alone {us(SDK_TRACES)}, both {us(SDK)}: beyond the observer's own share above, the SDK's "
        "recording. A call to a cloud takes milliseconds; where that is too much, `[telemetry] traces = "
        "false` keeps the metrics only."
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(__doc__.splitlines()[0] if __doc__ else NAME, argv)
    size = QUICK if options.quick else FULL
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": options.quick,
        "parameters": {"object_size": len(BODY), **asdict(size)},
        "environment": environment(),
        "hook": measure_hook(),
        "absent": measure_absent(size),
        "enabled": measure_enabled(size),
    }
    for path in write_results(options.out, NAME, data, _markdown(data, size)):
        say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

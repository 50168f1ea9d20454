"""What the benchmarks' smoke tests share: the scripts started together at their quick size, each in
its own process, and their results read back once each has ended well."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 170


@dataclass
class QuickRun:
    process: subprocess.Popen[str]
    out: Path
    output: str | None = None

    def results(self, name: str) -> dict[str, Any]:
        """The JSON the run wrote, once the process has ended well."""
        if self.output is None:
            self.output, _ = self.process.communicate(timeout=WAIT_SECONDS)
        assert self.process.returncode == 0, f"benchmarks.{name} --quick failed:\n{self.output[-4000:]}"
        path = self.out / f"{name}.json"
        assert path.is_file(), f"benchmarks.{name} wrote no {path.name}; it said:\n{self.output[-2000:]}"
        data: dict[str, Any] = json.loads(path.read_text())
        return data


@contextmanager
def quick_runs(
    names: Iterable[str], out: Callable[[str], Path], run: type[QuickRun] = QuickRun
) -> Iterator[dict[str, QuickRun]]:
    """``python -m benchmarks.NAME --quick --out out(NAME)`` for every name at once; killed at the end."""
    runs = {
        name: run(
            subprocess.Popen(
                [sys.executable, "-m", f"benchmarks.{name}", "--quick", "--out", str(out(name))],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
            out(name),
        )
        for name in names
    }
    try:
        yield runs
    finally:
        for started in runs.values():
            if started.process.poll() is None:
                started.process.kill()
            started.process.communicate()


def positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0

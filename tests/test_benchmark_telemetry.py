"""The telemetry benchmark runs at its quick size and writes the figures its report needs.

Nothing here judges speed: the values are checked for shape and sanity, never against a threshold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_telemetry_benchmark_quick_run_writes_ratios_and_sees_no_opentelemetry_import(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.telemetry", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "telemetry.json").read_text())
    assert (tmp_path / "telemetry.md").is_file()
    for operation in ("get_bytes", "put"):
        assert data["absent"]["ratio_installed_to_absent"][operation] > 0
        assert all(ratio > 0 for ratio in data["enabled"]["ratio_to_not_instrumented"][operation].values())
    assert data["absent"]["opentelemetry_imported"] == {
        "OpenTelemetry absent": False,
        "installed, not enabled": False,
    }, "an uninstrumented run imported OpenTelemetry"

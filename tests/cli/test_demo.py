"""``failover demo --quick --no-live``: the application rides through the AWS outage, and says so.

The demo runs once, as a user runs it (``python -m failover.cli``, output to a pipe, in a fresh
directory), and each test checks one promise of its summary or its exit code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.emulator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class DemoRun:
    returncode: int
    output: str
    directory: Path

    def line(self, label: str) -> str:
        """The value of the summary line ``label: value``."""
        match = re.search(rf"^{re.escape(label)}:\s+(.*)$", self.output, re.MULTILINE)
        assert match is not None, f"no {label!r} line in the demo's output:\n{self.output}"
        return match.group(1)

    def number(self, label: str, pattern: str) -> int:
        value = self.line(label)
        match = re.search(pattern, value)
        assert match is not None, f"{label!r} line {value!r} does not match {pattern!r}"
        return int(match.group(1))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    directory = tmp_path_factory.mktemp("demo")
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    result = subprocess.run(
        [sys.executable, "-m", "failover.cli", "demo", "--quick", "--no-live"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    return DemoRun(result.returncode, result.stdout + result.stderr, directory)


def test_quick_demo_ends_by_itself_with_exit_code_0_and_a_summary(demo: DemoRun) -> None:
    assert demo.returncode == 0, f"the demo exited {demo.returncode}:\n{demo.output}"
    assert demo.line("result") == "OK", demo.output


def test_quick_demo_fails_no_operation_through_the_outage(demo: DemoRun) -> None:
    assert demo.number("operations", r"^(\d+)") > 100, demo.output
    assert demo.number("failed", r"^(\d+)$") == 0, demo.output


def test_quick_demo_finds_every_acknowledged_object_on_every_store(demo: DemoRun) -> None:
    objects = demo.number("objects", r"^(\d+) acknowledged")
    verified = demo.number("objects", r"verified (\d+)/")
    copies = demo.number("objects", r"verified \d+/(\d+) copies")
    assert objects > 0, demo.output
    assert copies == 3 * objects, f"not every store was checked:\n{demo.output}"
    assert verified == copies, demo.output


def test_quick_demo_loses_no_message(demo: DemoRun) -> None:
    sent = demo.number("messages", r"sent (\d+)")
    assert sent > 0, demo.output
    assert demo.number("messages", r"received (\d+)") == sent, demo.output
    assert demo.number("messages", r"lost (\d+)") == 0, demo.output


def test_quick_demo_shows_aws_cut_off_detected_restored_and_replayed(demo: DemoRun) -> None:
    assert "AWS cut off: localhost.aws.failover.test no longer resolves" in demo.output
    for service in ("S3", "SQS"):
        # From DEGRADED if a loaded machine made it slower than its peers before the cut; and for the
        # reason the engine met first: the DNS failure, or the requests in flight that the cut reset.
        went_down = re.search(rf"^ +[\d.]+ s  {service}: (healthy|degraded) -> down \(", demo.output, re.MULTILINE)
        assert went_down, f"{service} never went DOWN when AWS was cut off:\n{demo.output}"
        assert f"{service}: probing -> healthy" in demo.output, f"{service} never came back:\n{demo.output}"
    assert re.search(r"S3 \d+\.\d ms, SQS \d+\.\d ms", demo.line("time to detect")), demo.output
    assert re.match(r"\d+\.\d s after the restore \([1-9]\d* pending copies to S3", demo.line("time to drain")), (
        f"the journal did not drain, or had nothing to replay:\n{demo.output}"
    )


def test_quick_demo_writes_a_png_timeline_to_the_current_directory(demo: DemoRun) -> None:
    path = demo.directory / "demo-timeline.png"
    assert Path(demo.line("timeline")) == path
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"

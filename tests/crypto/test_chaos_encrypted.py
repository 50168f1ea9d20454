"""A seeded chaos run with ``encrypt=True``: the same promises hold through the encrypting wrappers."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.testing.chaos import ChaosConfig, ChaosSummary, render_text, run_chaos
from failover.testing.emulators import LocalClouds

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def summary(local_clouds: LocalClouds, tmp_path_factory: pytest.TempPathFactory) -> ChaosSummary:
    workdir: Path = tmp_path_factory.mktemp("chaos-encrypted")
    result = run_chaos(local_clouds, ChaosConfig(seed=1, ops=2000, encrypt=True), workdir=workdir)
    print(render_text(result))
    return result


def test_encrypted_run_loses_no_acknowledged_write_and_reads_nothing_stale(summary: ChaosSummary) -> None:
    assert summary.unexpected == 0, render_text(summary)
    assert summary.lost == 0, render_text(summary)
    assert summary.stale_reads == 0, render_text(summary)
    assert summary.corrupt == 0, render_text(summary)


def test_encrypted_run_delivers_every_message_exactly_once(summary: ChaosSummary) -> None:
    assert summary.queue_sent > 0
    assert summary.queue_lost == 0, render_text(summary)
    assert summary.exactly_once, render_text(summary)

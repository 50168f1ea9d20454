"""The seeded chaos runs: a mixed workload on the local clouds while providers break and heal.

Three writers put, overwrite, delete and read objects through a `FailoverStorage` over S3, GCS and
Azure Blob, and send messages through a `FailoverQueue` over SQS and Azure Queue; a consumer in
another process, with its own storage, journal and dedup window, receives and acks. A seeded
schedule (in operation counts) breaks one provider at a time, sometimes two: refused connections,
DNS failure, a hang, a black hole, a 503 storm; and once kills the replicator, which a fresh
`FailoverStorage` on the same journal replaces. Then everything heals, the journals and queues
drain, and every store and queue is read directly.

One run per seed (module-scoped), and one test per promise the DESIGN makes about it. Each failure
message carries the run's whole summary: the table, why calls failed, and for lost writes and stale
reads the calls each store received on that key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.testing.chaos import ChaosConfig, ChaosSummary, render_text, run_chaos
from failover.testing.emulators import LocalClouds

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(300)]  # one run is ~30 s here; its first test pays for it

SEEDS = (1, 2, 3)
OPS = 2000


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{seed}" for seed in SEEDS])
def summary(
    request: pytest.FixtureRequest, local_clouds: LocalClouds, tmp_path_factory: pytest.TempPathFactory
) -> ChaosSummary:
    seed: int = request.param
    workdir: Path = tmp_path_factory.mktemp(f"chaos-{seed}")
    result = run_chaos(local_clouds, ChaosConfig(seed=seed, ops=OPS), workdir=workdir)
    print(render_text(result))
    return result


def test_the_run_did_what_it_promised(summary: ChaosSummary) -> None:
    assert summary.operations >= OPS
    broken = {line.split()[2] for line in summary.schedule if " break " in line}
    assert broken == {"aws", "gcp", "azure"}, f"the schedule broke only {broken}\n{render_text(summary)}"
    assert summary.restarts, f"the replicator was never killed\n{render_text(summary)}"
    assert summary.unexpected == 0, f"exceptions other than FailoverError escaped\n{render_text(summary)}"


def test_no_acknowledged_write_is_lost_on_any_store(summary: ChaosSummary) -> None:
    assert summary.lost == 0, render_text(summary)


def test_no_read_returns_a_version_older_than_an_acknowledged_write(summary: ChaosSummary) -> None:
    assert summary.stale_reads == 0, render_text(summary)
    assert summary.unknown_reads == 0, render_text(summary)
    assert summary.corrupt == 0, render_text(summary)


def test_a_fresh_storage_drains_the_killed_replicators_journal(summary: ChaosSummary) -> None:
    assert summary.restarts[0] > 0, f"the replicator was killed with nothing pending\n{render_text(summary)}"
    assert summary.journal_backlog == 0, render_text(summary)


def test_every_acknowledged_message_is_delivered(summary: ChaosSummary) -> None:
    assert summary.queue_sent > 0
    assert summary.queue_lost == 0, render_text(summary)


def test_every_message_is_processed_exactly_once_after_dedup(summary: ChaosSummary) -> None:
    assert summary.exactly_once, render_text(summary)


def test_no_receive_or_ack_fails_while_a_queue_is_healthy(summary: ChaosSummary) -> None:
    assert summary.failed_while_healthy == 0, render_text(summary)

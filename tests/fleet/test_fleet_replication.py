"""Replicators in several processes share one PostgreSQL journal: each item copied once, none lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from failover.fleet import FleetConfig, PostgresJournal
from failover.replication.replicator import Replicator
from tests.fleet.fleet_worker import write_all
from tests.unit.journal_worker import DELETED, KEYS, DirStore

ROOT = Path(__file__).resolve().parents[2]


def _worker(root: Path, config: FleetConfig, lease: float, kill_at: int | None = None) -> subprocess.Popen[str]:
    args = [str(root), config.dsn, config.schema_name, str(lease), *([str(kill_at)] if kill_at else [])]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fleet.fleet_worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _assert_replica_matches_and_no_put_repeated(root: Path) -> None:
    source, target = DirStore(root, "a"), DirStore(root, "b")
    assert target.stored_keys() == source.stored_keys() == {f"key-{n:02d}" for n in range(KEYS)} - set(DELETED)
    for key in source.stored_keys():
        assert target.head(key).version == source.head(key).version, key
    landed = target.landed()
    assert len(landed) == len(set(landed)), f"a version was copied twice: {sorted(landed)}"


@pytest.mark.timeout(90)
def test_replicators_in_three_processes_copy_each_item_once(tmp_path: Path, fleet_config: FleetConfig) -> None:
    with PostgresJournal.open(fleet_config) as journal:
        write_all(tmp_path, journal)
        workers = [_worker(tmp_path, fleet_config, lease=30) for _ in range(3)]
        outputs = [worker.communicate(timeout=60) for worker in workers]
        assert [out.split()[0] for out, _ in outputs] == ["DRAINED"] * 3, [err for _, err in outputs]
        assert journal.backlog() == {}
    applied = [int(out.split()[1]) for out, _ in outputs]
    assert sum(applied) == KEYS, f"items applied per worker {applied}: some item was applied by two workers"
    _assert_replica_matches_and_no_put_repeated(tmp_path)


@pytest.mark.timeout(90)
def test_items_of_a_killed_replicator_are_taken_over_when_its_lease_runs_out(
    tmp_path: Path, fleet_config: FleetConfig
) -> None:
    with PostgresJournal.open(fleet_config) as journal:
        write_all(tmp_path, journal)
        worker = _worker(tmp_path, fleet_config, lease=1.0, kill_at=5)
        _, errors = worker.communicate(timeout=60)
        assert worker.returncode == -signal.SIGKILL, errors
        free = journal.pending("b", limit=1000)
        assert len(free) < sum(journal.backlog().values()), "the killed worker held no lease: takeover untested"
        stores = {"a": DirStore(tmp_path, "a"), "b": DirStore(tmp_path, "b")}
        time.sleep(1.2)  # the killed worker's lease (1 s) runs out; until then its items are its own
        Replicator(stores, journal, poll_interval=0.1).drain(timeout=30)
        assert journal.backlog() == {}
    _assert_replica_matches_and_no_put_repeated(tmp_path)

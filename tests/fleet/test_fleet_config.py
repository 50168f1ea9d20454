"""A ``[fleet]`` table in the configuration: the wrappers built from it use the fleet's shared parts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover import FailoverQueue, FailoverStorage
from failover.adapters.aws import S3Store
from failover.cli import main
from failover.config import load_config
from failover.fleet import FleetConfig, PostgresDedupWindow, SpoolingJournal
from failover.health import HealthState
from failover.testing.emulators import MotoServer
from tests.cli.support import write_config

ROOT = Path(__file__).resolve().parents[2]
FAST = {"connect_timeout": 0.5, "read_timeout": 2.0}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with MotoServer(log_dir=tmp_path_factory.mktemp("moto")) as server:
        server.start()
        yield server


def _fleet_table(config: FleetConfig) -> str:
    return f'[fleet]\ndsn = "{config.dsn}"\nschema = "{config.schema_name}"\npool_size = 2\n'


def _config(tmp_path: Path, moto: MotoServer, fleet: FleetConfig, tables: str = "") -> Path:
    stores = [moto.s3_config(f"t-{uuid.uuid4().hex[:10]}", **FAST) for _ in range(2)]
    for store in stores:
        S3Store(store).close()  # creates the bucket
    return write_config(tmp_path / "failover.toml", storage=stores, tables=_fleet_table(fleet) + tables)


def test_fleet_table_is_read_with_its_schema_alias(tmp_path: Path, fleet_config: FleetConfig) -> None:
    path = tmp_path / "failover.toml"
    path.write_text(_fleet_table(fleet_config), encoding="utf-8")
    fleet = load_config(path).fleet
    assert fleet is not None
    assert (fleet.dsn, fleet.schema_name, fleet.pool_size) == (fleet_config.dsn, fleet_config.schema_name, 2)


def test_storage_from_a_file_with_a_fleet_journals_in_postgresql_for_every_process(
    tmp_path: Path, moto: MotoServer, fleet_config: FleetConfig
) -> None:
    path = _config(tmp_path, moto, fleet_config, "[storage]\nreplicate = false\n")
    with FailoverStorage.from_file(path) as storage:
        assert isinstance(storage.journal, SpoolingJournal)
        storage.put("k", b"v")
        _, second = storage.stores
        script = textwrap.dedent(
            f"""
            from failover.fleet import PostgresJournal, FleetConfig
            config = FleetConfig(dsn={fleet_config.dsn!r}, schema_name={fleet_config.schema_name!r})
            with PostgresJournal.open(config) as journal:
                print(sorted(journal.newest_pending("k")))
            """
        )
        seen = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert seen.stdout.strip() == repr([second]), seen.stderr[-2000:]
    assert storage.journal.primary.db.failures == 0


def test_storage_closes_the_fleet_it_opened(tmp_path: Path, moto: MotoServer, fleet_config: FleetConfig) -> None:
    path = _config(tmp_path, moto, fleet_config, "[storage]\nreplicate = false\n")
    storage = FailoverStorage.from_file(path)
    journal = storage.journal
    storage.close()
    assert isinstance(journal, SpoolingJournal)
    assert not journal._mover.is_alive(), "the fleet's journal was left open"


def test_queue_from_a_file_with_a_fleet_and_dedup_uses_the_fleets_window(
    tmp_path: Path, moto: MotoServer, fleet_config: FleetConfig, unique_name: str
) -> None:
    sqs = moto.sqs_config(unique_name, **FAST)
    path = write_config(
        tmp_path / "failover.toml", queues=[sqs], tables=_fleet_table(fleet_config) + "[queue]\ndedup = true\n"
    )
    with FailoverQueue.from_file(path) as queue:
        assert isinstance(queue.dedup_window, PostgresDedupWindow)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_status_and_replay_use_the_fleets_journal(
    tmp_path: Path, moto: MotoServer, fleet_config: FleetConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, moto, fleet_config, "[storage]\nreplicate = false\n")
    with FailoverStorage.from_file(path) as storage:
        for n in range(3):
            storage.put(f"k{n}", b"v")
        second = list(storage.stores)[1]

    code, output = _run(capsys, "status", "--config", str(path))
    assert code == 0, output
    assert f"journal of the fleet (schema {fleet_config.schema_name}): pending {second} 3" in output, output

    code, output = _run(capsys, "replay", "--config", str(path))
    assert code == 0, output
    assert "3 copies pending" in output, output
    with FailoverStorage.from_file(path) as storage:
        assert storage.journal.backlog() == {}
        assert storage.stores[second].get_bytes("k2") == b"v"


def test_storages_from_one_fleet_file_share_their_circuits(
    tmp_path: Path, moto: MotoServer, fleet_config: FleetConfig
) -> None:
    # Two processes' worth of storage on one [fleet]: a circuit one opens, the other sees opened.
    path = _config(tmp_path, moto, fleet_config, "[storage]\nreplicate = false\n")
    with FailoverStorage.from_file(path) as first, FailoverStorage.from_file(path) as second:
        name = next(iter(first.stores))
        first.health[name].open_circuit("opened in the first process")
        deadline = time.monotonic() + 2.0
        while second.health[name].state is not HealthState.DOWN and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.health[name].state is HealthState.DOWN, "the fleet's health store did not reach the other"

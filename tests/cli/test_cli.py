"""``failover status``, ``replay`` and ``repair`` on the session's local clouds, through `main`.

Each test writes a configuration file (TOML) naming fresh buckets and queues on the emulators, runs
the command as the console script would (``main([...])``), and checks its exit code, what it printed,
and what the stores hold afterwards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from failover.adapters.aws import S3Store, SqsQueue
from failover.adapters.azure import AzureBlobStore, AzureQueue
from failover.adapters.gcp import GcsStore, PubSubQueue
from failover.cli import main
from failover.config import FailoverConfig, GcsConfig, S3Config, load_config
from failover.errors import NotFound
from failover.interfaces import MessageQueue, ObjectStore
from failover.replication import SqliteJournal
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from tests.cli.support import write_config
from tests.support import closed_port

pytestmark = pytest.mark.emulator

FAST = {"connect_timeout": 0.5, "read_timeout": 2.0}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -- status ---------------------------------------------------------------------------------------


def _every_provider(local_clouds: LocalClouds, name: str, tmp_path: Path) -> Path:
    """A configuration of one store and one queue on each cloud, created on the emulators."""
    s3 = local_clouds.aws.s3_config(name, **FAST)
    gcs = local_clouds.gcs.gcs_config(name, **FAST)
    blob = local_clouds.azure.azure_blob_config(name, **FAST)
    sqs = local_clouds.aws.sqs_config(name, **FAST)
    pubsub = local_clouds.pubsub.pubsub_config(name, **FAST)
    azure_queue = local_clouds.azure.azure_queue_config(name, **FAST)
    # Built once with ensure=True, so that every bucket and queue exists; status itself creates nothing.
    adapters: list[ObjectStore | MessageQueue] = [
        S3Store(s3),
        GcsStore(gcs),
        AzureBlobStore(blob),
        SqsQueue(sqs),
        PubSubQueue(pubsub),
        AzureQueue(azure_queue),
    ]
    for adapter in adapters:
        adapter.close()
    return write_config(tmp_path / "failover.toml", storage=[s3, gcs, blob], queues=[sqs, pubsub, azure_queue])


def test_status_shows_every_configured_provider_reachable(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _every_provider(local_clouds, unique_name, tmp_path)

    code, output = _run(capsys, "status", "--config", str(config))

    assert code == 0, output
    assert "6 of 6 reachable" in output, output
    for kind in ("s3", "gcs", "azure_blob", "sqs", "pubsub", "azure_queue"):
        assert kind in output, f"no row for {kind}:\n{output}"
    for provider in ("aws", "gcp", "azure"):
        assert provider in output


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ("", "mode=primary, acknowledged at 1 store plus the journal entry for the others"),
        ('[storage]\nmode = "mirror"\n', "mode=mirror, acknowledged at 2 of 3 stores, the others journaled"),
        (
            '[storage]\nmode = "mirror"\nwrite_quorum = 3\n',
            "acknowledged at 3 of 3 stores, the others journaled; writes fail while any store is down",
        ),
    ],
    ids=["primary", "mirror-default", "mirror-all"],
)
def test_status_shows_how_writes_are_acknowledged(
    tables: str,
    expected: str,
    local_clouds: LocalClouds,
    unique_name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3 = local_clouds.aws.s3_config(unique_name, **FAST)
    gcs = local_clouds.gcs.gcs_config(unique_name, **FAST)
    blob = local_clouds.azure.azure_blob_config(unique_name, **FAST)
    for store in (S3Store(s3), GcsStore(gcs), AzureBlobStore(blob)):  # ensure=True: the buckets exist
        store.close()
    config = write_config(tmp_path / "failover.toml", storage=[s3, gcs, blob], tables=tables)

    code, output = _run(capsys, "status", "--config", str(config))

    assert code == 0, output
    assert expected in " ".join(output.split()), output


def test_status_exits_1_naming_the_endpoint_at_a_closed_port(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = local_clouds.aws.s3_config(
        unique_name, name="s3-nowhere", endpoint_url=f"http://127.0.0.1:{closed_port()}", ensure=False, **FAST
    )
    gcs = local_clouds.gcs.gcs_config(unique_name, **FAST)
    GcsStore(gcs).close()
    config = write_config(tmp_path / "failover.toml", storage=[nowhere, gcs])

    code, output = _run(capsys, "status", "--config", str(config))

    assert code == 1, output
    assert "1 of 2 reachable; unreachable: s3-nowhere" in output, output
    row = next(line for line in output.splitlines() if "s3-nowhere" in line and "│" in line)
    assert "refused" in row, f"the row does not say why: {row}"


def test_status_on_a_missing_config_file_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = _run(capsys, "status", "--config", str(tmp_path / "absent.toml"))

    assert code == 2
    assert "absent.toml" in output


# -- replay and repair: S3 and GCS, objects on S3 only ----------------------------------------------


@dataclass
class TwoStores:
    config_path: Path
    config: FailoverConfig
    s3: ObjectStore
    gcs: ObjectStore
    written: dict[str, tuple[str | None, str]]  # key -> (version, sha256) as acknowledged

    def assert_missing_on_gcs(self) -> None:
        for key in self.written:
            with pytest.raises(NotFound):
                self.gcs.head(key)

    def assert_on_gcs_as_written(self) -> None:
        for key, (version, sha256) in self.written.items():
            held = self.gcs.head(key)
            assert (held.version, held.sha256) == (version, sha256), f"{key} on GCS is not the version written"


@pytest.fixture
def two_stores(local_clouds: LocalClouds, unique_name: str, tmp_path: Path) -> Iterator[TwoStores]:
    s3_config: S3Config = local_clouds.aws.s3_config(unique_name, **FAST)
    gcs_config: GcsConfig = local_clouds.gcs.gcs_config(unique_name, **FAST)
    path = write_config(tmp_path / "failover.toml", storage=[s3_config, gcs_config])
    s3, gcs = S3Store(s3_config), GcsStore(gcs_config)
    try:
        yield TwoStores(path, load_config(path), s3, gcs, {})
    finally:
        s3.close()
        gcs.close()


def _write(storage: FailoverStorage, stores: TwoStores, count: int) -> None:
    for index in range(count):
        data = f"object {index}".encode() * 10
        info = storage.put(f"orders/{index:02d}.bin", data)
        stores.written[info.key] = (info.version, hashlib.sha256(data).hexdigest())


def test_replay_copies_what_the_journal_has_pending_and_empties_it(
    two_stores: TwoStores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal.sqlite"
    # Primary mode, replicator off: S3 takes each write, the journal keeps GCS pending.
    with FailoverStorage.from_config(two_stores.config, journal=journal, replicate=False) as storage:
        _write(storage, two_stores, 4)
    two_stores.assert_missing_on_gcs()

    code, output = _run(capsys, "replay", "--config", str(two_stores.config_path), "--journal", str(journal))

    assert code == 0, output
    assert "4 copies pending" in output, output
    assert re.search(r"replaying .*4/4", output), f"no progress bar (the README says replay shows one):\n{output}"
    assert "copied 4," in output, output
    two_stores.assert_on_gcs_as_written()
    with SqliteJournal(journal) as reopened:
        assert reopened.backlog() == {}


def test_replay_leaves_pending_what_an_unreachable_store_misses_and_exits_1(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = local_clouds.aws.s3_config(unique_name, **FAST)
    gcs = local_clouds.gcs.gcs_config(unique_name, **FAST)
    journal = tmp_path / "journal.sqlite"
    with FailoverStorage.from_config(FailoverConfig(stores=[s3, gcs]), journal=journal, replicate=False) as storage:
        storage.put("orders/one.bin", b"one")
    down = gcs.model_copy(update={"endpoint_url": f"http://127.0.0.1:{closed_port()}", "ensure": False})
    config = write_config(tmp_path / "failover.toml", storage=[s3, down])

    code, output = _run(capsys, "replay", "--config", str(config), "--journal", str(journal))

    assert code == 1, output
    assert f"left pending: gcp:gcs:{unique_name} 1" in output, output


def test_repair_dry_run_reports_what_it_would_copy_and_copies_nothing(
    two_stores: TwoStores, capsys: pytest.CaptureFixture[str]
) -> None:
    with FailoverStorage([_s3_only(two_stores)]) as storage:  # stamped writes, on S3 alone
        _write(storage, two_stores, 3)

    code, output = _run(capsys, "repair", "--config", str(two_stores.config_path), "--prefix", "orders/", "--dry-run")

    assert code == 0, output
    assert "scanned 3 keys: 0 in sync, would copy 3" in output, output
    for key in two_stores.written:
        assert key in output, f"{key} is not among the copies reported:\n{output}"
    two_stores.assert_missing_on_gcs()


def test_repair_copies_the_newest_version_to_the_store_that_lacks_it(
    two_stores: TwoStores, capsys: pytest.CaptureFixture[str]
) -> None:
    with FailoverStorage([_s3_only(two_stores)]) as storage:
        _write(storage, two_stores, 3)

    code, output = _run(capsys, "repair", "--config", str(two_stores.config_path), "--prefix", "orders/")

    assert code == 0, output
    assert "scanned 3 keys: 0 in sync, copied 3" in output, output
    two_stores.assert_on_gcs_as_written()
    code, output = _run(capsys, "repair", "--config", str(two_stores.config_path), "--prefix", "orders/")
    assert "scanned 3 keys: 3 in sync, copied 0" in output, f"a second repair found work left:\n{output}"


def _s3_only(stores: TwoStores) -> ObjectStore:
    """A second S3 adapter on the same bucket (FailoverStorage closes it; the fixture's stays open)."""
    config = next(iter(stores.config.stores.values()))
    assert isinstance(config, S3Config)
    return S3Store(config)


# -- dead letters ---------------------------------------------------------------------------------


def _one_dead_letter(two_stores: TwoStores, journal: Path) -> None:
    """One object on S3, its copy to GCS given up on (as after max_attempts failures)."""
    with FailoverStorage.from_config(two_stores.config, journal=journal, replicate=False) as storage:
        _write(storage, two_stores, 1)
        (item,) = storage.journal.pending()
        storage.journal.dead_letter(item.key, item.version, item.store, "source_missing")


def test_status_shows_the_journals_dead_letters(
    two_stores: TwoStores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal.sqlite"
    _one_dead_letter(two_stores, journal)

    code, output = _run(capsys, "status", "--config", str(two_stores.config_path), "--journal", str(journal))

    assert code == 0, output
    assert "dead letters: 1" in output, output
    assert "orders/00.bin" in output, output
    assert "source_missing" in output, output


def test_replay_lists_dead_letters_and_exits_1_until_retried(
    two_stores: TwoStores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal.sqlite"
    _one_dead_letter(two_stores, journal)
    config = str(two_stores.config_path)

    code, output = _run(capsys, "replay", "--config", config, "--journal", str(journal))
    assert code == 1, output
    assert "dead letters: 1" in output, output
    two_stores.assert_missing_on_gcs()

    code, output = _run(capsys, "replay", "--config", config, "--journal", str(journal), "--retry-dead")
    assert code == 0, output
    two_stores.assert_on_gcs_as_written()


def test_replay_without_journal_uses_the_stores_default_journal(
    two_stores: TwoStores, capsys: pytest.CaptureFixture[str]
) -> None:
    with FailoverStorage.from_config(two_stores.config, replicate=False) as storage:  # the default journal
        _write(storage, two_stores, 2)

    code, output = _run(capsys, "replay", "--config", str(two_stores.config_path))

    assert code == 0, output
    two_stores.assert_on_gcs_as_written()

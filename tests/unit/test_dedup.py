"""The dedup window: the first sighting of an id is new, later ones within the TTL are duplicates."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.replication.dedup import SqliteDedupWindow
from failover.testing.contract import DedupWindowContract, ManualWall
from failover.testing.contract.dedup import OpenWindow


class TestSqliteDedupWindow(DedupWindowContract):
    @pytest.fixture
    def open_window(self, tmp_path: Path, wall: ManualWall) -> Iterator[OpenWindow]:
        opened: list[SqliteDedupWindow] = []

        def open_window(ttl: float) -> SqliteDedupWindow:
            window = SqliteDedupWindow(tmp_path / "dedup.db", ttl=ttl, wall=wall)
            opened.append(window)
            return window

        yield open_window
        for window in opened:
            window.close()


def test_id_seen_by_another_process_is_a_duplicate_here(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    script = textwrap.dedent(
        f"""
        from failover.replication.dedup import SqliteDedupWindow
        with SqliteDedupWindow({str(path)!r}, ttl=3600) as window:
            print(window.seen("from-child"))
        """
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert child.stdout.strip() == "False", child.stderr
    with SqliteDedupWindow(path, ttl=3600) as window:
        assert window.seen("from-child") is True

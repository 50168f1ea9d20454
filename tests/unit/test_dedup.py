"""The dedup window: the first sighting of an id is new, later ones within the TTL are duplicates."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.replication.dedup import SqliteDedupWindow


class Wall:
    def __init__(self, seconds: float = 1000.0) -> None:
        self.seconds = seconds

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def window(tmp_path: Path, wall: Wall) -> Iterator[SqliteDedupWindow]:
    with SqliteDedupWindow(tmp_path / "dedup.db", ttl=60.0, wall=wall) as opened:
        yield opened


def test_first_sighting_is_new_and_later_ones_are_duplicates(window: SqliteDedupWindow) -> None:
    assert [window.seen("m1"), window.seen("m1"), window.seen("m1")] == [False, True, True]


def test_ids_are_independent(window: SqliteDedupWindow) -> None:
    assert [window.seen("m1"), window.seen("m2")] == [False, False]


def test_id_is_new_again_once_its_ttl_has_passed(window: SqliteDedupWindow, wall: Wall) -> None:
    window.seen("m1")
    wall.seconds += 59.9
    assert window.seen("m1") is True
    wall.seconds += 0.1
    assert window.seen("m1") is False
    assert window.seen("m1") is True


def test_ttl_counts_from_the_first_sighting_not_the_latest(window: SqliteDedupWindow, wall: Wall) -> None:
    window.seen("m1")
    wall.seconds += 50
    window.seen("m1")
    wall.seconds += 10
    assert window.seen("m1") is False


def test_forgotten_id_is_new_again(window: SqliteDedupWindow) -> None:
    window.seen("m1")
    window.forget("m1")
    assert window.seen("m1") is False


def test_expired_ids_are_purged_lazily(window: SqliteDedupWindow, wall: Wall) -> None:
    for n in range(10):
        window.seen(f"m{n}")
    assert len(window) == 10
    wall.seconds += 61
    window.seen("fresh")
    assert len(window) == 1


def test_empty_id_is_refused(window: SqliteDedupWindow) -> None:
    with pytest.raises(ValueError, match="failover_id"):
        window.seen("")


def test_ttl_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ttl"):
        SqliteDedupWindow(tmp_path / "d.db", ttl=0)


def test_exactly_one_of_many_racing_threads_sees_an_id_first(window: SqliteDedupWindow) -> None:
    answers: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for n in range(20):
            answer = window.seen(f"m{n}")
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(False) == 20


def test_ids_survive_reopening(tmp_path: Path, wall: Wall) -> None:
    with SqliteDedupWindow(tmp_path / "d.db", ttl=60.0, wall=wall) as first:
        first.seen("m1")
    with SqliteDedupWindow(tmp_path / "d.db", ttl=60.0, wall=wall) as second:
        assert second.seen("m1") is True


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

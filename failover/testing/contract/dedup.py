"""`DedupWindowContract`: what every `DedupWindow` promises (SQLite per host, PostgreSQL per fleet).

A binding overrides one fixture, ``open_window``: a factory ``open_window(ttl)`` that opens a window
with that TTL on the binding's shared, initially empty record (every call opens the same record, as
another process would) on the ``wall`` clock, and closes what it opened at the end of the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import pytest

from failover.replication.dedup import DedupWindow
from failover.testing.contract._wall import ManualWall

__all__ = ["CountedWindow", "DedupWindowContract", "OpenWindow"]


class CountedWindow(DedupWindow, Protocol):
    def __len__(self) -> int:
        """Ids recorded and not yet purged."""
        ...


OpenWindow = Callable[[float], CountedWindow]


class DedupWindowContract:
    """Subclass it as ``Test...`` and override `open_window`."""

    @pytest.fixture
    def wall(self) -> ManualWall:
        return ManualWall()

    @pytest.fixture
    def open_window(self, wall: ManualWall) -> OpenWindow:
        raise NotImplementedError("a binding of DedupWindowContract overrides the `open_window` fixture")

    @pytest.fixture
    def window(self, open_window: OpenWindow) -> CountedWindow:
        return open_window(60.0)

    def test_first_sighting_is_new_and_later_ones_are_duplicates(self, window: CountedWindow) -> None:
        assert [window.seen("m1"), window.seen("m1"), window.seen("m1")] == [False, True, True]

    def test_ids_are_independent(self, window: CountedWindow) -> None:
        assert [window.seen("m1"), window.seen("m2")] == [False, False]

    def test_id_is_new_again_once_its_ttl_has_passed(self, window: CountedWindow, wall: ManualWall) -> None:
        window.seen("m1")
        wall.seconds += 59.9
        assert window.seen("m1") is True
        wall.seconds += 0.1
        assert window.seen("m1") is False
        assert window.seen("m1") is True

    def test_ttl_counts_from_the_first_sighting_not_the_latest(self, window: CountedWindow, wall: ManualWall) -> None:
        window.seen("m1")
        wall.seconds += 50
        window.seen("m1")
        wall.seconds += 10
        assert window.seen("m1") is False

    def test_forgotten_id_is_new_again(self, window: CountedWindow) -> None:
        window.seen("m1")
        window.forget("m1")
        assert window.seen("m1") is False

    def test_expired_ids_are_purged_lazily(self, window: CountedWindow, wall: ManualWall) -> None:
        for n in range(10):
            window.seen(f"m{n}")
        assert len(window) == 10
        wall.seconds += 61
        window.seen("fresh")
        assert len(window) == 1

    def test_empty_id_is_refused(self, window: CountedWindow) -> None:
        with pytest.raises(ValueError, match="failover_id"):
            window.seen("")

    def test_ttl_must_be_positive(self, open_window: OpenWindow) -> None:
        with pytest.raises(ValueError, match="ttl"):
            open_window(0)

    def test_exactly_one_of_many_racing_threads_sees_an_id_first(self, window: CountedWindow) -> None:
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

    def test_ids_survive_reopening(self, open_window: OpenWindow) -> None:
        first = open_window(60.0)
        first.seen("m1")
        first.close()
        second = open_window(60.0)
        assert second.seen("m1") is True

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

from failover.replication.dedup import AdmitsCopies, DedupWindow, Verdict
from failover.testing.contract._wall import ManualWall

__all__ = ["CountedWindow", "DedupWindowContract", "OpenWindow"]


class CountedWindow(DedupWindow, AdmitsCopies, Protocol):
    def __len__(self) -> int:
        """Ids recorded and not yet purged."""
        ...


OpenWindow = Callable[[float], CountedWindow]

LEASE = 5.0


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

    # -- admission of delivered copies, under an in-flight lease ---------------------------------------

    def test_first_copy_of_an_id_is_handed_on(self, window: CountedWindow) -> None:
        assert window.admit("m1 q a", "m1", LEASE).verdict is Verdict.HAND_ON

    def test_same_copy_delivered_again_within_the_lease_is_held_until_the_lease_ends(
        self, window: CountedWindow, wall: ManualWall
    ) -> None:
        window.admit("m1 q a", "m1", LEASE)
        wall.seconds += 2
        again = window.admit("m1 q a", "m1", LEASE)
        assert again.verdict is Verdict.HOLD
        assert again.lease_left == pytest.approx(3.0)

    def test_same_copy_is_handed_on_again_once_the_holders_lease_ran_out(
        self, window: CountedWindow, wall: ManualWall
    ) -> None:
        window.admit("m1 q a", "m1", LEASE)
        wall.seconds += LEASE - 0.1
        assert window.admit("m1 q a", "m1", LEASE).verdict is Verdict.HOLD
        wall.seconds += 0.1
        assert window.admit("m1 q a", "m1", LEASE).verdict is Verdict.HAND_ON
        assert window.admit("m1 q a", "m1", LEASE).verdict is Verdict.HOLD, "the new holder has a lease too"

    def test_another_copy_of_an_admitted_id_is_dropped(self, window: CountedWindow, wall: ManualWall) -> None:
        window.admit("m1 q a", "m1", LEASE)
        assert window.admit("m1 r b", "m1", LEASE).verdict is Verdict.DROP
        wall.seconds += LEASE
        assert window.admit("m1 r b", "m1", LEASE).verdict is Verdict.DROP

    def test_every_copy_is_dropped_once_the_message_is_settled(self, window: CountedWindow, wall: ManualWall) -> None:
        window.admit("m1 q a", "m1", LEASE)
        window.settle("m1")
        assert window.admit("m1 q a", "m1", LEASE).verdict is Verdict.DROP
        wall.seconds += LEASE
        assert window.admit("m1 q a", "m1", LEASE).verdict is Verdict.DROP

    def test_a_forgotten_id_admits_its_next_copy(self, window: CountedWindow) -> None:
        window.admit("m1 q a", "m1", LEASE)
        window.forget("m1")
        assert window.admit("m1 r b", "m1", LEASE).verdict is Verdict.HAND_ON

    def test_an_admission_is_forgotten_after_the_ttl(self, window: CountedWindow, wall: ManualWall) -> None:
        window.admit("m1 q a", "m1", LEASE)
        window.settle("m1")
        wall.seconds += 60
        assert window.admit("m1 r b", "m1", LEASE).verdict is Verdict.HAND_ON

    def test_lease_must_be_positive(self, window: CountedWindow) -> None:
        with pytest.raises(ValueError, match="lease"):
            window.admit("m1 q a", "m1", 0)

    def test_exactly_one_of_many_racing_threads_is_handed_the_same_copy(self, window: CountedWindow) -> None:
        verdicts: list[Verdict] = []
        lock = threading.Lock()
        start = threading.Barrier(8)

        def work() -> None:
            start.wait()
            for n in range(20):
                verdict = window.admit(f"m{n} q a", f"m{n}", LEASE).verdict
                with lock:
                    verdicts.append(verdict)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert (verdicts.count(Verdict.HAND_ON), verdicts.count(Verdict.HOLD)) == (20, 140)

    def test_a_lease_taken_through_one_opening_holds_in_another(self, open_window: OpenWindow) -> None:
        first = open_window(60.0)
        assert first.admit("m1 q a", "m1", LEASE).verdict is Verdict.HAND_ON
        second = open_window(60.0)
        assert second.admit("m1 q a", "m1", LEASE).verdict is Verdict.HOLD

"""Version stamps: a hybrid logical clock whose text form sorts like the stamps themselves."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.keys import validate_metadata
from failover.replication.stamps import (
    MAX_COUNTER,
    MAX_WALL_MS,
    HybridClock,
    VersionStamp,
    random_writer_id,
    version_order,
)


class Wall:
    """A settable wall clock in seconds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self) -> float:
        return self.seconds


writer_ids = st.text(alphabet="abcXYZ019._:-", min_size=1, max_size=12)
stamps = st.builds(
    VersionStamp,
    wall_ms=st.integers(0, MAX_WALL_MS),
    counter=st.integers(0, MAX_COUNTER),
    writer_id=writer_ids,
)


@given(stamps, stamps)
def test_text_form_sorts_exactly_like_the_stamps(a: VersionStamp, b: VersionStamp) -> None:
    assert (str(a) < str(b)) == (a < b)
    assert (str(a) == str(b)) == (a == b)


@given(stamps)
def test_text_form_parses_back_to_the_same_stamp(stamp: VersionStamp) -> None:
    assert VersionStamp.parse(str(stamp)) == stamp


def test_text_form_is_short_printable_ascii_and_valid_user_metadata() -> None:
    text = str(VersionStamp(1_764_000_000_000, 3, "w1"))
    assert text == "019ab697e800-000003-w1"
    assert text.isascii()
    assert text.isprintable()
    assert " " not in text
    assert validate_metadata({"failover_version": text}, reserved_allowed={"failover_version"})


@pytest.mark.parametrize("text", ["", "019aba6c9800-000003", "019ABA6C9800-000003-w1", "19aba6c9800-000003-w1", "x"])
def test_parse_rejects_what_is_not_a_stamp(text: str) -> None:
    with pytest.raises(ValueError, match="not a version stamp"):
        VersionStamp.parse(text)


@pytest.mark.parametrize("writer_id", ["", "has space", "a/b", "é", "x" * 65])
def test_writer_id_must_be_short_and_plain(writer_id: str) -> None:
    with pytest.raises(ValueError, match="writer id"):
        HybridClock(writer_id)


def test_object_without_stamp_orders_before_any_stamp() -> None:
    assert version_order(None) < version_order(str(VersionStamp(0, 0, "a")))


def test_clock_follows_the_wall_clock_in_milliseconds() -> None:
    wall = Wall(1_764_000_000.5)
    clock = HybridClock("w1", wall=wall)
    assert clock.now() == VersionStamp(1_764_000_000_500, 0, "w1")
    wall.seconds += 0.25
    assert clock.now() == VersionStamp(1_764_000_000_750, 0, "w1")


def test_stamps_within_one_millisecond_count_up() -> None:
    clock = HybridClock("w1", wall=Wall(10.0))
    assert [clock.now().counter for _ in range(3)] == [0, 1, 2]


def test_stamps_keep_increasing_when_the_wall_clock_steps_back() -> None:
    wall = Wall(100.0)
    clock = HybridClock("w1", wall=wall)
    before = clock.now()
    wall.seconds = 50.0
    after = clock.now()
    assert after > before
    assert after.wall_ms == before.wall_ms


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    clock = HybridClock("w1", wall=Wall(1.0))
    clock.observe(VersionStamp(1000, MAX_COUNTER, "other"))
    assert clock.now() == VersionStamp(1001, 0, "w1")


def test_observing_a_stamp_from_a_clock_ahead_makes_the_next_stamp_newer() -> None:
    ahead = HybridClock("zz", wall=Wall(500.0)).now()
    behind = HybridClock("aa", wall=Wall(100.0))
    behind.observe(str(ahead))
    assert behind.now() > ahead


def test_observing_an_older_stamp_does_not_move_the_clock_back() -> None:
    clock = HybridClock("w1", wall=Wall(100.0))
    first = clock.now()
    clock.observe(VersionStamp(1, 0, "old"))
    assert clock.now() > first


def test_two_writers_at_the_same_instant_never_produce_equal_stamps() -> None:
    wall = Wall(42.0)
    assert HybridClock("a", wall=wall).now() != HybridClock("b", wall=wall).now()


def test_clock_hands_out_unique_increasing_stamps_across_threads() -> None:
    clock = HybridClock("w1", wall=Wall(7.0))
    per_thread: list[list[VersionStamp]] = [[] for _ in range(4)]

    def work(out: list[VersionStamp]) -> None:
        for _ in range(500):
            out.append(clock.now())

    threads = [threading.Thread(target=work, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [stamp for out in per_thread for stamp in out]
    assert len(set(every)) == 2000
    assert all(out == sorted(out) for out in per_thread)


def test_random_writer_id_uses_the_injected_source() -> None:
    assert random_writer_id(lambda n: "ab" * n) == "abababab"
    HybridClock(random_writer_id())  # a real one is a valid writer id

"""The replicator: journaled versions reach every store, oldest first, never older over newer."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.interfaces import Capabilities
from failover.replication.replicator import Backoff
from tests.unit.replication_support import Store, World, v


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.journal.close()


def test_pending_version_is_copied_with_its_stamp_content_type_and_metadata(world: World) -> None:
    world.stores["a"].put("k", b"x", content_type="text/plain", metadata={"owner": "me", "failover_version": v(1)})
    world.journal.append("k", v(1), world.stores["a"].head("k").sha256 or "", 1, "a", ["b"])
    stats = world.replicator().run_once()
    copy = world.stores["b"].head("k")
    assert (copy.version, copy.content_type, dict(copy.metadata)) == (v(1), "text/plain", {"owner": "me"})
    assert copy.sha256 == world.stores["a"].head("k").sha256
    assert (stats.copied, world.journal.backlog()) == (1, {})


def test_copy_streams_the_body_as_a_file_not_bytes(world: World) -> None:
    body = bytes(range(256)) * 12_000  # 3 MiB: several chunks
    world.write("big", body, v(1), pending=("b",))
    world.replicator().run_once()
    (body_type,) = world.stores["b"].bodies
    assert not issubclass(body_type, bytes | bytearray | memoryview), body_type
    assert world.stores["b"].get_bytes("big") == body


def test_target_holding_a_newer_version_is_not_overwritten(world: World) -> None:
    world.write("k", b"old", v(1), pending=("b",))
    world.stores["b"].put("k", b"new", metadata={"failover_version": v(2)})
    stats = world.replicator().run_once()
    assert world.state("b", "k") == (v(2), b"new")
    assert (stats.up_to_date, world.journal.backlog()) == (1, {})


def test_target_already_holding_the_version_is_marked_done_without_a_put(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    world.stores["b"].put("k", b"x", metadata={"failover_version": v(1)})
    world.stores["b"].puts.clear()
    world.replicator().run_once()
    assert world.stores["b"].puts == []
    assert world.journal.backlog() == {}


def test_same_stamp_with_other_content_on_the_target_is_overwritten(world: World) -> None:
    world.write("k", b"right", v(1), pending=("b",))
    world.stores["b"].put("k", b"wrong", metadata={"failover_version": v(1)})
    world.replicator().run_once()
    assert world.state("b", "k") == (v(1), b"right")


def test_write_to_an_empty_target_is_create_only_and_to_an_existing_one_matches_its_etag(world: World) -> None:
    world.write("new", b"x", v(2), pending=("b",))
    world.write("old", b"y", v(3), pending=("b",))
    etag = world.stores["b"].put("old", b"older", metadata={"failover_version": v(1)}).etag
    world.stores["b"].puts.clear()
    world.replicator().run_once()
    assert world.stores["b"].puts == [("new", v(2), "*", None), ("old", v(3), None, etag)]


def test_newer_write_racing_the_copy_onto_an_empty_target_wins(world: World) -> None:
    world.write("k", b"old", v(1), pending=("b",))
    target = world.stores["b"]
    target.before_put = lambda: MemoryStore.put(target, "k", b"newer", metadata={"failover_version": v(5)})
    stats = world.replicator().run_once()
    assert world.state("b", "k") == (v(5), b"newer")
    assert (stats.up_to_date, world.journal.backlog()) == (1, {})


def test_newer_write_racing_the_copy_over_an_older_object_wins(world: World) -> None:
    world.write("k", b"mid", v(3), pending=("b",))
    target = world.stores["b"]
    MemoryStore.put(target, "k", b"old", metadata={"failover_version": v(1)})
    target.before_put = lambda: MemoryStore.put(target, "k", b"newer", metadata={"failover_version": v(5)})
    world.replicator().run_once()
    assert world.state("b", "k") == (v(5), b"newer")


def test_older_write_racing_the_copy_is_replaced_after_a_second_look(world: World) -> None:
    world.write("k", b"mid", v(3), pending=("b",))
    target = world.stores["b"]
    target.before_put = lambda: MemoryStore.put(target, "k", b"old", metadata={"failover_version": v(1)})
    stats = world.replicator().run_once()
    assert world.state("b", "k") == (v(3), b"mid")
    assert stats.copied == 1


def test_target_without_conditional_writes_gets_a_plain_put(world: World) -> None:
    plain = Capabilities(max_object_size=2**40, conditional_create=False, conditional_update=False)
    world.stores["b"] = Store("b", capabilities=plain)
    world.write("k", b"new", v(2), pending=("b",))
    MemoryStore.put(world.stores["b"], "k", b"old", metadata={"failover_version": v(1)})
    world.replicator().run_once()
    assert world.state("b", "k") == (v(2), b"new")
    assert world.stores["b"].puts == [("k", v(2), None, None)]


def test_only_the_newest_of_several_journaled_versions_is_copied(world: World) -> None:
    for n in (1, 2, 3):
        world.write("k", f"v{n}".encode(), v(n), pending=("b",))
    world.replicator().run_once()
    assert world.stores["b"].puts == [("k", v(3), "*", None)]


def test_items_are_copied_oldest_version_first(world: World) -> None:
    world.write("z", b"1", v(1), pending=("b",))
    world.write("y", b"3", v(3), pending=("b",))
    world.write("x", b"2", v(2), pending=("b",))
    world.replicator().run_once()
    assert [put[0] for put in world.stores["b"].puts] == ["z", "x", "y"]


def test_version_missing_on_its_source_is_read_from_another_store_that_has_it(world: World) -> None:
    world.write("k", b"x", v(1), pending=("c",))
    MemoryStore.put(world.stores["b"], "k", b"x", metadata={"failover_version": v(1)})
    MemoryStore.delete(world.stores["a"], "k")
    world.replicator().run_once()
    assert world.state("c", "k") == (v(1), b"x")


def test_version_every_store_has_moved_past_is_superseded_not_copied(world: World) -> None:
    world.write("k", b"old", v(1), pending=("b",))
    MemoryStore.put(world.stores["a"], "k", b"newer", metadata={"failover_version": v(2)})
    stats = world.replicator().run_once()
    assert (stats.superseded, world.stores["b"].puts, world.journal.backlog()) == (1, [], {})


def test_version_no_store_holds_is_rescheduled_with_backoff(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    MemoryStore.delete(world.stores["a"], "k")
    stats = world.replicator().run_once()
    (item,) = world.journal.items("k")
    assert (stats.rescheduled, item.attempts, item.last_error) == (1, 1, "source_missing")
    assert item.next_attempt == 1000.0 + 0.5  # base 1 s, half fixed, jitter 0


def test_source_whose_content_differs_from_the_journal_is_not_copied(world: World) -> None:
    world.stores["a"].put("k", b"x", metadata={"failover_version": v(1)})
    world.journal.append("k", v(1), "0" * 64, 1, "a", ["b"])
    world.replicator().run_once()
    assert world.stores["b"].puts == []
    assert world.journal.backlog() == {"b": 1}


def test_copy_the_target_stores_with_another_checksum_is_not_marked_done(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    world.stores["b"].corrupt = True
    stats = world.replicator().run_once()
    assert stats.rescheduled == 1
    assert world.journal.items("k")[0].last_error == "mismatch"


def test_tombstone_deletes_an_older_version_on_the_target(world: World) -> None:
    world.write("k", b"x", v(1), pending=())
    MemoryStore.put(world.stores["b"], "k", b"x", metadata={"failover_version": v(1)})
    world.delete("k", v(2), pending=("b",))
    stats = world.replicator().run_once()
    assert (world.state("b", "k"), stats.deleted) == (None, 1)


def test_tombstone_spares_a_newer_version_on_the_target(world: World) -> None:
    MemoryStore.put(world.stores["b"], "k", b"newer", metadata={"failover_version": v(3)})
    world.delete("k", v(2), pending=("b",))
    world.replicator().run_once()
    assert world.state("b", "k") == (v(3), b"newer")
    assert world.journal.backlog() == {}


def test_tombstone_for_an_absent_key_is_done(world: World) -> None:
    world.delete("k", v(2), pending=("b",))
    stats = world.replicator().run_once()
    assert (stats.up_to_date, world.journal.backlog()) == (1, {})


def test_copy_retired_by_a_tombstone_after_the_pass_listed_it_does_not_bring_the_object_back(world: World) -> None:
    world.write("first", b"x", v(1), source="b", pending=("a",))
    world.write("k", b"x", v(2), source="b", pending=("a",))
    # While the pass copies "first", "k" is deleted on "a" and its tombstone journaled: the copy of
    # "k" the pass listed before is retired.
    world.stores["a"].before_put = lambda: world.delete("k", v(3), source="a", pending=("b",))
    stats = world.replicator().run_once()
    assert world.state("a", "k") is None, "the replicator copied a deleted object back onto the store that deleted it"
    assert stats.superseded == 1
    world.replicator().drain()
    assert (world.state("a", "k"), world.state("b", "k"), world.journal.backlog()) == (None, None, {})


def test_copy_retired_by_a_newer_put_after_the_pass_listed_it_is_not_applied(world: World) -> None:
    world.write("first", b"x", v(1), source="b", pending=("a",))
    world.write("k", b"old", v(2), source="b", pending=("a",))
    world.stores["a"].before_put = lambda: world.write("k", b"new", v(3), source="c", pending=("a", "b"))
    world.replicator().run_once()
    assert [put[:2] for put in world.stores["a"].puts] == [("first", v(1))], "a retired version was copied"
    world.replicator().drain()
    assert [world.state(name, "k") for name in "abc"] == [(v(3), b"new")] * 3


def _recording_lock(events: list[str]) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    @contextlib.contextmanager
    def key_lock(key: str) -> Iterator[None]:
        events.append(f"lock {key}")
        yield
        events.append(f"unlock {key}")

    return key_lock


def test_item_for_a_store_without_conditional_writes_is_applied_under_its_keys_lock(tmp_path: Path) -> None:
    plain = Capabilities(max_object_size=2**20, conditional_create=False, conditional_update=False)
    w = World(tmp_path, capabilities=plain)
    events: list[str] = []
    w.write("k", b"x", v(1), pending=("b",))
    w.delete("gone", v(2), pending=("c",))
    MemoryStore.put(w.stores["c"], "gone", b"x", metadata={"failover_version": v(1)})
    w.stores["b"].before_put = lambda: events.append("put k")
    w.replicator(key_lock=_recording_lock(events)).run_once()
    assert events == ["lock k", "put k", "unlock k", "lock gone", "unlock gone"]
    assert w.state("c", "gone") is None


def test_item_for_a_store_with_conditional_writes_takes_no_lock_but_occupies_its_store(world: World) -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def occupy(key: str, store: str) -> Iterator[None]:
        events.append(f"occupy {key} on {store}")
        yield
        events.append(f"release {key} on {store}")

    world.write("k", b"x", v(1), pending=("b",))
    world.delete("gone", v(2), pending=("c",))
    MemoryStore.put(world.stores["c"], "gone", b"x", metadata={"failover_version": v(1)})
    world.stores["b"].before_put = lambda: events.append("put k")
    world.replicator(key_lock=_recording_lock(events), occupy=occupy).run_once()
    assert events == ["occupy k on b", "put k", "release k on b", "occupy gone on c", "release gone on c"], (
        "a writer of the key would wait behind the whole copy, or could write the store during it"
    )
    assert world.state("c", "gone") is None


def test_down_target_costs_one_call_and_its_items_are_rescheduled(world: World) -> None:
    for n in range(5):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b", "c"))
    world.stores["b"].down = True
    stats = world.replicator().run_once()
    assert world.stores["b"].calls == 1
    assert (stats.copied, stats.rescheduled) == (5, 1)
    assert world.journal.backlog() == {"b": 5}


def test_down_target_rests_before_the_next_pass_tries_it(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    world.write("k2", b"x", v(2), pending=("b",))
    world.stores["b"].down = True
    replicator = world.replicator()
    replicator.run_once()
    replicator.run_once()
    assert world.stores["b"].calls == 1
    world.clock.advance(1.0)
    world.stores["b"].down = False
    replicator.run_once()
    assert world.journal.backlog() == {}


def test_unavailable_store_is_not_called_and_catches_up_when_it_returns(world: World) -> None:
    for n in range(3):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b",))
    world.down.add("b")
    replicator = world.replicator()
    assert replicator.run_once().attempted == 0
    assert world.stores["b"].calls == 0
    world.down.clear()
    replicator.run_once()
    assert [world.state("b", f"k{n}") for n in range(3)] == [(v(n + 1), b"x") for n in range(3)]


def test_unavailable_source_is_not_read_from(world: World) -> None:
    world.write("k", b"x", v(1), pending=("c",))
    MemoryStore.put(world.stores["b"], "k", b"x", metadata={"failover_version": v(1)})
    world.down.add("a")
    world.stores["a"].calls = 0
    world.replicator().run_once()
    assert world.stores["a"].calls == 0
    assert world.state("c", "k") == (v(1), b"x")


def test_unexpected_error_is_recorded_and_the_item_kept(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))

    def boom() -> None:
        raise RuntimeError("bug")

    world.stores["b"].before_put = boom
    stats = world.replicator().run_once()
    assert stats.errors == ["b k: RuntimeError: bug"]
    assert world.journal.items("k")[0].last_error == "RuntimeError: bug"


def test_unexpected_error_is_logged_with_its_traceback(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.write("k", b"x", v(1), pending=("b",))

    def boom() -> None:
        raise RuntimeError("bug")

    world.stores["b"].before_put = boom
    with caplog.at_level(logging.ERROR, logger="failover.replication"):
        world.replicator().run_once()
    (record,) = [r for r in caplog.records if r.name == "failover.replication"]
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError


def test_progress_reports_done_and_remaining_per_store(world: World) -> None:
    for n in range(2):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b", "c"))
    world.replicator().run_once()
    assert world.progress == [(1, 1, "b"), (1, 1, "c"), (2, 0, "b"), (2, 0, "c")]


def test_run_once_stops_at_its_limit(world: World) -> None:
    for n in range(5):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b",))
    assert world.replicator().run_once(limit=2).copied == 2
    assert world.journal.backlog() == {"b": 3}


def test_rate_limit_paces_copies_on_the_clock(world: World) -> None:
    for n in range(20):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b",))
    world.replicator(rate_limit=10.0).drain()
    # A burst of 10, then one every 0.1 s.
    assert sum(world.clock.sleeps) == pytest.approx(1.0)
    assert world.journal.backlog() == {}


def test_drain_works_through_several_batches(world: World) -> None:
    for n in range(7):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b",))
    stats = world.replicator(batch=3).drain()
    assert (stats.copied, world.journal.backlog()) == (7, {})


def test_drain_waits_out_a_backoff_and_then_finishes(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    world.stores["b"].down = True
    replicator = world.replicator(poll_interval=0.5)
    replicator.run_once()
    world.stores["b"].down = False
    stats = replicator.drain(timeout=30)
    assert (stats.copied, world.journal.backlog()) == (1, {})


def test_drain_stops_when_until_says_so(world: World) -> None:
    for n in range(4):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b",))
    replicator = world.replicator(batch=1)
    replicator.drain(until=lambda: len(world.stores["b"].puts) >= 2)
    assert world.journal.backlog() == {"b": 2}


def test_background_thread_replicates_what_is_appended_after_a_wake(world: World) -> None:
    copied = threading.Event()
    replicator = world.replicator(on_progress=lambda done, remaining, store: copied.set(), poll_interval=60.0)
    replicator.start()
    try:
        assert replicator.running
        world.write("k", b"x", v(1), pending=("b",))
        replicator.wake()
        assert copied.wait(5.0), "the background thread did not copy the appended version"
    finally:
        replicator.stop()
    assert not replicator.running
    assert world.state("b", "k") == (v(1), b"x")


def test_drain_in_the_callers_thread_works_after_the_background_thread_stopped(world: World) -> None:
    replicator = world.replicator()
    replicator.start()
    replicator.stop()
    world.write("k", b"x", v(1), pending=("b",))
    assert replicator.drain(timeout=5).copied == 1


def test_backoff_grows_exponentially_up_to_its_cap() -> None:
    backoff = Backoff(base=1.0, cap=8.0, jitter=lambda: 1.0)
    assert [backoff.delay(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert Backoff(base=1.0, cap=8.0, jitter=lambda: 0.0).delay(3) == 4.0

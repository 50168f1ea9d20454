"""Replication never stops by itself: what `drain` promises, dead letters, and a drain that meets
the background thread mid-copy."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.engine import EngineSettings
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore, refused
from tests.unit.replication_support import Slow, World, v

SETTINGS = EngineSettings(start_probers=False)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.journal.close()


def test_drain_leaves_a_store_that_stays_down_after_one_failed_try(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    world.write("j", b"x", v(2), pending=("b",))
    world.stores["b"].down = True
    stats = world.replicator(poll_interval=1.0).drain()
    assert (world.stores["b"].calls, stats.rescheduled) == (1, 1), "one call, then the store is left alone"
    assert world.journal.backlog() == {"b": 2}


def test_drain_tries_a_store_whose_health_still_says_down(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    world.down.add("b")  # recovered, but its circuit has not closed yet
    stats = world.replicator().drain()
    assert (stats.copied, world.journal.backlog()) == (1, {})


def test_drain_without_timeout_does_not_spin_on_an_item_that_cannot_succeed(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    MemoryStore.delete(world.stores["a"], "k")  # the only source lost the version
    stats = world.replicator().drain()
    assert stats.rescheduled == 1
    assert world.clock.monotonic() == 1000.0, "drain waited for a retry that cannot succeed"


def test_item_failing_max_attempts_times_goes_to_the_dead_letters(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    MemoryStore.delete(world.stores["a"], "k")
    replicator = world.replicator(max_attempts=3)
    for _ in range(3):
        replicator.drain()
    assert world.journal.backlog() == {}, "a dead letter still counts as backlog"
    assert [(i.key, i.store, i.attempts, i.last_error) for i in world.journal.dead_letters()] == [
        ("k", "b", 3, "source_missing")
    ]
    assert world.journal.newest_pending("k") == frozenset({"b"}), "b still lacks the version"
    assert replicator.drain().attempted == 0
    assert world.journal.revive() == 1
    assert world.journal.backlog() == {"b": 1}


def test_item_whose_store_is_down_is_never_dead_lettered(world: World) -> None:
    world.write("k", b"x", v(1), pending=("b",))
    world.stores["b"].down = True
    replicator = world.replicator(max_attempts=2)
    for _ in range(5):
        replicator.drain()
    assert world.journal.dead_letters() == []
    assert world.journal.backlog() == {"b": 1}


def test_drain_returns_at_its_timeout_while_a_copy_is_in_flight(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), Slow("b")
    with FailoverStorage([a, b], journal=tmp_path / "j.sqlite", settings=SETTINGS, replicate=False) as storage:
        storage.put("k", b"x")
        b.hold.clear()  # b's next put hangs until released
        try:
            started = time.monotonic()
            storage.drain(timeout=0.5)
            elapsed = time.monotonic() - started
        finally:
            b.hold.set()
    assert elapsed < 1.0, f"drain(timeout=0.5) took {elapsed:.2f} s"


def test_drain_during_a_long_background_copy_leaves_replication_running(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), Slow("b")
    with FailoverStorage([a, b], journal=tmp_path / "j.sqlite", settings=SETTINGS) as storage:
        b.hold.clear()
        storage.put("k", b"x")
        assert b.entered.wait(5), "the background replicator never started the copy"
        storage.drain(timeout=0.3)  # the background thread is mid-copy, longer than this drain
        b.hold.set()
        assert storage.replicator.running, "drain() left the background replicator stopped"
        storage.put("j", b"y")
        deadline = time.monotonic() + 5
        while storage.journal.backlog() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert storage.journal.backlog() == {}
        assert b.get_bytes("j") == b"y"


def test_drain_right_after_a_recovery_replays_the_backlog_of_a_store_still_marked_down(tmp_path: Path) -> None:
    b = FaultyStore(MemoryStore("b"))
    with FailoverStorage(
        [b, MemoryStore("a")], journal=tmp_path / "j.sqlite", settings=SETTINGS, replicate=False
    ) as storage:
        b.fail(refused())
        for n in range(3):
            storage.put(f"k{n}", b"x")
        assert not storage.engine.is_available("b")
        b.heal()
        stats = storage.drain()
        assert (stats.copied, storage.journal.backlog()) == (3, {})


def test_concurrent_lanes_copy_every_item_once(world: World) -> None:
    for n in range(40):
        world.write(f"k{n}", b"x", v(n + 1), pending=("b", "c"))
    stats = world.replicator(concurrency=4).drain(timeout=30)
    assert (stats.copied, world.journal.backlog()) == (80, {})
    assert len(world.stores["b"].puts) == 40
    assert threading.active_count() >= 1

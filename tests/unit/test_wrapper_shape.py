"""FailoverStorage and FailoverQueue have one shape: health, listeners, their endpoints, drain, and a
context that closes what they opened."""

from __future__ import annotations

from typing import Any

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.clock import ManualClock
from failover.engine import EngineSettings
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage
from failover.testing.faulty import refused
from failover.testing.faulty_queue import FaultyQueue

SETTINGS = EngineSettings(start_probers=False, attempt_timeout=1.0)


def _storage(tmp_path: Any) -> FailoverStorage:
    return FailoverStorage([MemoryStore("a"), MemoryStore("b")], settings=SETTINGS, journal=tmp_path / "j.sqlite")


def _queue() -> FailoverQueue:
    return FailoverQueue([MemoryQueue("a"), MemoryQueue("b")], settings=SETTINGS)


@pytest.mark.parametrize("build", ["storage", "queue"])
def test_both_wrappers_expose_health_listeners_drain_and_a_context(build: str, tmp_path: Any) -> None:
    wrapper = _storage(tmp_path) if build == "storage" else _queue()
    with wrapper:
        assert sorted(wrapper.health.states()) == ["a", "b"]
        changes: list[tuple[object, ...]] = []
        assert wrapper.on_state_change(lambda *args: changes.append(args)) is not None
        assert wrapper.on_failover(lambda *args: changes.append(args)) is not None
        wrapper.drain(timeout=1.0)
    endpoints = wrapper.stores if isinstance(wrapper, FailoverStorage) else {q.name: q for q in wrapper.queues}
    assert list(endpoints) == ["a", "b"]


def test_queue_drain_delivers_the_acks_a_dead_queue_could_not_take() -> None:
    clock = ManualClock()
    primary = FaultyQueue(MemoryQueue("primary", clock=clock))
    queue = FailoverQueue([primary, MemoryQueue("secondary", clock=clock)], settings=SETTINGS, clock=clock)
    with queue:
        queue.send(b"job")
        (message,) = queue.receive(1, visibility=30)
        primary.fail(refused(), "ack")
        queue.ack(message)  # kept pending: the application sees no failure
        assert queue.pending_acks == 1
        primary.heal()
        assert queue.drain(timeout=5.0) == 0, "drain left the ack pending"
        assert primary.inner.receive(10, visibility=0) == [], "the acked message is still on its queue"

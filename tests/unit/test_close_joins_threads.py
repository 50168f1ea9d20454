"""``close()`` ends every thread the wrapper started, within a bounded time, and nothing calls a closed store.

The wrappers run probers (one thread per endpoint), the replicator, a thread pool (hedges, mirror
writes, brownout samples) and the queue's ack retries. A `close()` while a DOWN endpoint is being
probed and a copy is in flight must join them all before it returns, within `BOUND`, and after it
no probe or copy reaches a store it closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.engine import EngineSettings
from failover.health import HealthState, ProbeBackoff
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore, refused
from failover.testing.faulty_queue import FaultyQueue

T = TypeVar("T")

HANG = 0.3  # seconds each call to the slow store takes
PROBE_HANG = 1.2  # seconds each probe of the down store takes: within its timeout, longer than a second
SETTINGS = EngineSettings(deadline=2.0, probe_timeout=1.5, probe_backoff=ProbeBackoff(base=0.02, cap=0.05, jitter=0.0))
# close() waits for a probe or a copy in flight (each ends within its timeout): the probe timeout,
# and a second for the rest.
BOUND = SETTINGS.probe_timeout + 1.0
WAIT = 10.0  # seconds a test waits for a state that must come


class _Watch:
    """What a watched store or queue saw: calls in flight, calls made after it was closed."""

    def __init__(self, hang: float) -> None:
        self.hang = hang
        self.closed = False
        self.after_close = 0  # calls that began after the store was closed
        self.busy_at_close = 0  # calls still running when it was closed
        self.in_flight = 0
        self.by_thread: dict[str, int] = {}
        self.lock = threading.Lock()

    def run(self, call: Callable[[], T]) -> T:
        with self.lock:
            if self.closed:
                self.after_close += 1
            self.in_flight += 1
            name = threading.current_thread().name
            role = "prober" if name.startswith("failover-prober") else name.rstrip("0123456789_-")
            self.by_thread[role] = self.by_thread.get(role, 0) + 1
        try:
            if self.hang:
                threading.Event().wait(self.hang)
            return call()
        finally:
            with self.lock:
                self.in_flight -= 1


class WatchedStore(FaultyStore):
    def __init__(self, name: str, hang: float = 0.0) -> None:
        super().__init__(MemoryStore(name))
        self.watch = _Watch(hang)

    def _run(self, operation: str, call: Callable[[], T]) -> T:
        return self.watch.run(lambda: super(WatchedStore, self)._run(operation, call))

    def close(self) -> None:
        with self.watch.lock:
            self.watch.closed = True
            self.watch.busy_at_close = self.watch.in_flight
        super().close()


class WatchedQueue(FaultyQueue):
    def __init__(self, name: str, hang: float = 0.0) -> None:
        super().__init__(MemoryQueue(name))
        self.watch = _Watch(hang)

    def _run(self, operation: str, call: Callable[[], T]) -> T:
        return self.watch.run(lambda: super(WatchedQueue, self)._run(operation, call))

    def close(self) -> None:
        with self.watch.lock:
            self.watch.closed = True
            self.watch.busy_at_close = self.watch.in_flight
        super().close()


def _until(condition: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < give_up, f"{what} did not happen within {WAIT} s"
        threading.Event().wait(0.01)


@pytest.fixture
def threads_before() -> set[threading.Thread]:
    return set(threading.enumerate())


def _started_since(before: set[threading.Thread]) -> list[str]:
    return sorted(thread.name for thread in threading.enumerate() if thread not in before and thread.is_alive())


def _storage_while_probing_and_copying(tmp_path: Path) -> tuple[FailoverStorage, WatchedStore, WatchedStore]:
    primary, down, slow = (
        WatchedStore("primary"),
        WatchedStore("down", hang=PROBE_HANG),
        WatchedStore("slow", hang=HANG),
    )
    down.fail(refused())
    storage = FailoverStorage([primary, down, slow], journal=tmp_path / "journal.sqlite", settings=SETTINGS)
    for index in range(20):
        storage.put(f"k{index}", b"v")
    _until(lambda: storage.health["down"].state is HealthState.DOWN, "the down store's circuit opening")
    _until(lambda: down.watch.by_thread.get("prober", 0) > 0 and down.watch.in_flight > 0, "a probe of the down store")
    _until(lambda: slow.watch.in_flight > 0, "a copy to the slow store")
    return storage, down, slow


def test_storage_close_joins_every_thread_it_started_within_the_bound(
    tmp_path: Path, threads_before: set[threading.Thread]
) -> None:
    storage, _, _ = _storage_while_probing_and_copying(tmp_path)
    started = time.monotonic()
    storage.close()
    took = time.monotonic() - started
    alive = _started_since(threads_before)
    assert alive == [], f"threads alive after close ({took:.2f} s): {alive}"
    assert took < BOUND, f"close took {took:.2f} s, more than {BOUND} s"


def test_no_probe_or_copy_reaches_a_store_after_storage_close(
    tmp_path: Path, threads_before: set[threading.Thread]
) -> None:
    storage, down, slow = _storage_while_probing_and_copying(tmp_path)
    storage.close()
    threading.Event().wait(0.3)  # several probe intervals
    calls = {
        name: (store.watch.busy_at_close, store.watch.after_close) for name, store in (("down", down), ("slow", slow))
    }
    assert calls == {"down": (0, 0), "slow": (0, 0)}, f"(running at close, begun after close) per store: {calls}"


def _queue_while_probing() -> tuple[FailoverQueue, WatchedQueue]:
    first, down = WatchedQueue("first"), WatchedQueue("down", hang=PROBE_HANG)
    down.fail(refused())
    queue = FailoverQueue([down, first], settings=SETTINGS)
    queue.send(b"m")
    _until(lambda: queue.health["down"].state is HealthState.DOWN, "the down queue's circuit opening")
    _until(lambda: down.watch.by_thread.get("prober", 0) > 0 and down.watch.in_flight > 0, "a probe of the down queue")
    return queue, down


def test_queue_close_joins_every_thread_it_started_within_the_bound(threads_before: set[threading.Thread]) -> None:
    queue, _ = _queue_while_probing()
    started = time.monotonic()
    queue.close()
    took = time.monotonic() - started
    alive = _started_since(threads_before)
    assert alive == [], f"threads alive after close ({took:.2f} s): {alive}"
    assert took < BOUND, f"close took {took:.2f} s, more than {BOUND} s"


def test_no_probe_reaches_a_queue_after_queue_close(threads_before: set[threading.Thread]) -> None:
    queue, down = _queue_while_probing()
    queue.close()
    threading.Event().wait(0.3)
    calls = (down.watch.busy_at_close, down.watch.after_close)
    assert calls == (0, 0), f"(running at close, begun after close) on the down queue: {calls}"

"""Writes of a key still running on a store outside the call that wants to write it next.

Two kinds, each in an `InFlight` of its own: mirror writes still running after their call returned,
and the replicator's conditional copies (`InFlight.occupy`), which hold no key lock. Writers of the
key leave a busy store out, for the journal to bring it the newer version after.

A mirror write is acknowledged once ``quorum`` stores hold it; the slower stores' writes go on in
the background (each inside the deadline of the call that started it) and are journaled as
pending until they succeed. While one runs, nothing else may write that key to that store, or the
older version could land after the newer one: a later write of the key leaves that store out (it
is journaled as pending, for the replicator), and the replicator waits for the store's background
write of the key to end before it applies an item of the key (`InFlight.guard`).

A store that falls behind does not pile up threads: once ``limit`` background writes run on it
(`saturated`), new writes leave it out too, and the journal carries them to it later.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

__all__ = ["InFlight"]


class InFlight:
    """Counts of background writes per (key, store), and a way to wait for them to end."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: dict[str, dict[str, int]] = {}

    def begin(self, key: str, store: str) -> None:
        with self._changed:
            stores = self._running.setdefault(key, {})
            stores[store] = stores.get(store, 0) + 1

    def end(self, key: str, store: str) -> None:
        with self._changed:
            stores = self._running[key]
            stores[store] -= 1
            if not stores[store]:
                del stores[store]
            if not stores:
                del self._running[key]
            self._changed.notify_all()

    def stores(self, key: str) -> frozenset[str]:
        """The stores that a background write of ``key`` is still running on."""
        with self._changed:
            return frozenset(self._running.get(key, ()))

    def saturated(self, limit: int) -> frozenset[str]:
        """The stores that ``limit`` or more background writes (of any keys) are running on."""
        with self._changed:
            totals: dict[str, int] = {}
            for stores in self._running.values():
                for store, count in stores.items():
                    totals[store] = totals.get(store, 0) + count
        return frozenset(store for store, count in totals.items() if count >= limit)

    def count(self) -> int:
        with self._changed:
            return sum(sum(stores.values()) for stores in self._running.values())

    def wait(self, key: str | None = None, timeout: float | None = None) -> bool:
        """Wait until no background write of ``key`` (of any key: None) runs; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: (key not in self._running) if key is not None else not self._running, timeout
            )

    @contextlib.contextmanager
    def occupy(
        self, key: str, store: str, *, key_lock: Callable[[str], contextlib.AbstractContextManager[None]]
    ) -> Iterator[None]:
        """``store`` is busy with ``key`` for the block (a replication copy: `Replicator` ``occupy``).

        It begins under the key's lock, between two writes of the key: a writer either came before
        and is journaled by the time the block starts, or comes after and sees the store busy.
        """
        with key_lock(key):
            self.begin(key, store)
        try:
            yield
        finally:
            self.end(key, store)

    def guard(
        self, key_lock: Callable[[str], contextlib.AbstractContextManager[None]]
    ) -> Callable[[str], contextlib.AbstractContextManager[None]]:
        """``key_lock``, then a wait for the key's background writes to end (for the replicator).

        The wait is bounded: every background write ends by its call's deadline.
        """

        @contextlib.contextmanager
        def locked(key: str) -> Iterator[None]:
            with key_lock(key):
                self.wait(key)
                yield

        return locked

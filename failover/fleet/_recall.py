"""What this process last knew the fleet's journal had pending, for reads while the database is away.

A read asks the journal which stores lack the newest version of its key. While PostgreSQL does not
answer, the spool knows only what this process spooled; the entries this process journaled in the
database before it went away, and those the database named pending at this process's last reads,
would be forgotten, and a read would then take a store that lacks an acknowledged version (this
process's own, even). `PendingRecall` keeps them: every append this process made to the database,
every answer of the database to `newest_pending`, this process's own `mark_done`, and the whole
pending set, which the spool's mover reads from the database every ``move_interval``. The
database's answer replaces what was known (it is the fleet's), unless this process appended to
the key after the question was asked. So a read while the database is away skips what the fleet had
pending up to one interval before it went away; what other processes wrote after that, only a
store that holds it can tell.

Bounded: the least recently touched keys are forgotten past ``capacity``.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

__all__ = ["PendingRecall"]


@dataclass(slots=True)
class _Known:
    version: str  # this process's newest append, "" when only the database's answer is known
    stores: set[str]
    generation: int  # when it was last touched, on the recall's own counter


class PendingRecall:
    """Per key, the stores the fleet's newest version was last known to be pending on; thread-safe."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._generations = itertools.count(1)
        self._generation = 0
        self._lock = threading.Lock()

    def mark(self) -> int:
        """The recall's time now: pass it to `answered` with the answer to a question asked after it."""
        with self._lock:
            return self._generation

    def appended(self, key: str, version: str, stores: Collection[str]) -> None:
        """This process journaled ``version`` of ``key`` in the database, pending on ``stores``."""
        with self._lock:
            known = self._known.get(key)
            if known is not None and known.version > version:
                return
            self._put(key, _Known(version, set(stores), self._tick()))

    def answered(self, key: str, stores: Collection[str], since: int) -> None:
        """The database said the newest version of ``key`` is pending on ``stores`` (asked at ``since``)."""
        with self._lock:
            known = self._known.get(key)
            if known is not None and known.generation > since:
                known.stores |= set(stores)  # an append of ours raced the question: keep both
                return
            if stores:
                self._put(key, _Known(known.version if known else "", set(stores), self._tick()))
            else:
                self._known.pop(key, None)

    def refreshed(self, pending: dict[str, set[str]], since: int) -> None:
        """The database's whole answer (every key's newest version still pending, asked at ``since``):
        it replaces what was known, but for the keys this process appended to after the question."""
        with self._lock:
            kept = {key: known for key, known in self._known.items() if known.generation > since}
            self._known.clear()
            for key, stores in pending.items():
                self._known[key] = _Known("", set(stores), since)
            for key, known in kept.items():
                if key in self._known:
                    known.stores |= self._known[key].stores
                self._known[key] = known
            while len(self._known) > self.capacity:
                self._known.popitem(last=False)

    def done(self, key: str, version: str, store: str) -> None:
        """This process copied ``version`` of ``key`` to ``store``."""
        with self._lock:
            known = self._known.get(key)
            if known is not None and known.version == version:
                known.stores.discard(store)
                if not known.stores:
                    del self._known[key]

    def pending(self, key: str) -> frozenset[str]:
        with self._lock:
            known = self._known.get(key)
            return frozenset(known.stores) if known is not None else frozenset()

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)

    def _tick(self) -> int:
        self._generation = next(self._generations)
        return self._generation

    def _put(self, key: str, known: _Known) -> None:
        self._known[key] = known
        self._known.move_to_end(key)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)

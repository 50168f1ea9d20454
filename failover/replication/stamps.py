"""Version stamps: a hybrid logical clock that orders every write, across writers and providers.

A stamp is ``(wall_ms, counter, writer_id)``. The wall part keeps stamps close to real time, so a
later write from another machine usually wins; the counter orders writes within one millisecond
(and keeps the clock monotonic when the wall clock steps back); the writer id breaks the last tie,
so two writers never produce equal stamps.

The text form is what goes into an object's user metadata as ``failover_version``::

    0193b4c2a1f0-000000-w1

twelve hex digits of milliseconds, six of counter, then the writer id. The first two fields have a
fixed width, so comparing two stamps as text gives the same answer as comparing them as stamps: the
journal orders by that column and `copy_version` compares what `head` returns, without parsing.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HybridClock", "VersionStamp", "random_writer_id", "version_order"]

_WALL_DIGITS = 12  # 2**48 ms: the year 10889
_COUNTER_DIGITS = 6
MAX_WALL_MS = 16**_WALL_DIGITS - 1
MAX_COUNTER = 16**_COUNTER_DIGITS - 1
# Characters every provider keeps byte for byte in a metadata value; no separator ambiguity arises
# because the fields before the writer id have a fixed width.
_WRITER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
_STAMP = re.compile(rf"([0-9a-f]{{{_WALL_DIGITS}}})-([0-9a-f]{{{_COUNTER_DIGITS}}})-(.+)\Z")


@dataclass(frozen=True, order=True, slots=True)
class VersionStamp:
    """One point of the hybrid logical clock; stamps compare field by field, in this order."""

    wall_ms: int
    counter: int
    writer_id: str

    def __post_init__(self) -> None:
        if not 0 <= self.wall_ms <= MAX_WALL_MS:
            raise ValueError(f"wall_ms out of range: {self.wall_ms}")
        if not 0 <= self.counter <= MAX_COUNTER:
            raise ValueError(f"counter out of range: {self.counter}")
        _check_writer_id(self.writer_id)

    def __str__(self) -> str:
        return f"{self.wall_ms:0{_WALL_DIGITS}x}-{self.counter:0{_COUNTER_DIGITS}x}-{self.writer_id}"

    @classmethod
    def parse(cls, text: str) -> VersionStamp:
        """The stamp whose text form is ``text``; `ValueError` if it is not one."""
        match = _STAMP.match(text)
        if match is None:
            raise ValueError(f"not a version stamp: {text!r}")
        return cls(int(match[1], 16), int(match[2], 16), match[3])


def version_order(version: str | None) -> str:
    """A sort key for a stored ``failover_version``: an object without one is older than any stamp."""
    return version or ""


def random_writer_id(token_hex: Callable[[int], str] = secrets.token_hex) -> str:
    """A fresh writer id: 8 hex digits, enough that two processes of one fleet do not share one."""
    return token_hex(4)


def _check_writer_id(writer_id: str) -> None:
    if not isinstance(writer_id, str) or not _WRITER_ID.match(writer_id):
        raise ValueError(f"a writer id is 1 to 64 characters of [A-Za-z0-9._:-], not {writer_id!r}")


class HybridClock:
    """Hands out strictly increasing `VersionStamp`s for one writer; thread-safe.

    ``wall`` returns seconds since the epoch (``time.time`` unless a test injects another). Every
    stamp is greater than every stamp this clock produced or `observe`\\ d before.
    """

    def __init__(self, writer_id: str, wall: Callable[[], float] = time.time) -> None:
        _check_writer_id(writer_id)
        self.writer_id = writer_id
        self._wall = wall
        self._lock = threading.Lock()
        self._wall_ms = 0
        self._counter = 0

    def now(self) -> VersionStamp:
        """A new stamp, greater than any this clock has produced or observed."""
        physical = int(self._wall() * 1000)
        with self._lock:
            if physical > self._wall_ms:
                self._wall_ms, self._counter = physical, 0
            elif self._counter < MAX_COUNTER:
                self._counter += 1
            else:
                # 16 million stamps in one millisecond, or a wall clock far behind what was observed:
                # borrow the next millisecond rather than break monotonicity.
                self._wall_ms, self._counter = self._wall_ms + 1, 0
            return VersionStamp(self._wall_ms, self._counter, self.writer_id)

    def observe(self, stamp: VersionStamp | str) -> None:
        """Move the clock past ``stamp`` (read from a store or another writer)."""
        seen = VersionStamp.parse(stamp) if isinstance(stamp, str) else stamp
        with self._lock:
            if (seen.wall_ms, seen.counter) > (self._wall_ms, self._counter):
                self._wall_ms, self._counter = seen.wall_ms, seen.counter

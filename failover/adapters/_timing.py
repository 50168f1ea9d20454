"""One attempt's time, shared by the requests an adapter call makes.

The engine hands each adapter call the attempt's timeout (already cut to what the call's deadline
leaves). A call that makes more than one request (a metadata read, then the first bytes; a queue URL
lookup, then the send) gives each request what is left of that timeout, not the whole of it, so
that the attempt ends within its timeout and the call within its deadline.
"""

from __future__ import annotations

import time
from typing import Final

__all__ = ["MIN_REQUEST", "AttemptTime"]

MIN_REQUEST: Final = 0.01
"""Seconds a request gets when the attempt's time is spent: it times out at once rather than never."""


class AttemptTime:
    """The time left of one attempt of ``seconds``, started now (on the real clock: sockets time out on it)."""

    __slots__ = ("_ends",)

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds the next request may take: what is left of the attempt, at least `MIN_REQUEST`."""
        return max(self._ends - time.monotonic(), MIN_REQUEST)

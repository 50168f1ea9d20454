"""Helpers the contract suites share: generated streams, bounded polling of queues."""

from __future__ import annotations

import hashlib
import io
import random
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from failover.interfaces import Message, MessageQueue

__all__ = ["generated_sha256", "generated_stream", "non_seekable", "receive_until"]

_CHUNK = 1024 * 1024


def _generated_chunks(size: int, seed: int) -> Iterator[bytes]:
    # Pseudo-random rather than repeated bytes: a store that compresses or deduplicates cannot cheat.
    rng = random.Random(seed)
    left = size
    while left > 0:
        chunk = rng.randbytes(min(_CHUNK, left))
        left -= len(chunk)
        yield chunk


def generated_sha256(size: int, seed: int) -> str:
    """The sha256 of what `GeneratedStream` (size, seed) yields, computed without holding it."""
    digest = hashlib.sha256()
    for chunk in _generated_chunks(size, seed):
        digest.update(chunk)
    return digest.hexdigest()


class _Chunks(io.RawIOBase):
    """Raw reads over an iterator of chunks; it cannot seek, as a socket or a pipe cannot."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def non_seekable(chunks: Iterator[bytes]) -> BinaryIO:
    """A read-only binary file object over ``chunks`` that cannot seek."""
    return io.BufferedReader(_Chunks(chunks))


def generated_stream(size: int, seed: int = 0) -> BinaryIO:
    """``size`` pseudo-random bytes made on the fly: a large upload that never sits in memory whole."""
    return non_seekable(_generated_chunks(size, seed))


def receive_until(
    queue: MessageQueue,
    done: Callable[[list[Message]], bool],
    *,
    within: float,
    visibility: float | None = None,
    ack: bool = False,
    max_messages: int | None = None,
) -> list[Message]:
    """Receive (waiting at most 1 s each time) until ``done(everything received)`` or ``within`` s passed.

    Emulators may answer a receive with fewer messages than are ready, so one receive proves nothing;
    the bound only keeps a broken adapter from hanging the test, and no test asserts how long it took.
    """
    received: list[Message] = []
    deadline = time.monotonic() + within
    while not done(received) and time.monotonic() < deadline:
        batch = queue.receive(max_messages or queue.capabilities.max_batch, wait=1, visibility=visibility)
        received.extend(batch)
        if ack:
            for message in batch:
                queue.ack(message)
    return received

"""`ObjectReader`: the streaming body of one object, the same for every adapter; `read_within`."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Self

from failover.errors import ProviderUnavailable, Reason

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from failover.interfaces import ObjectInfo
    from failover.policy.deadline import Deadline

__all__ = ["ObjectReader", "read_within"]


class ObjectReader(io.RawIOBase):
    """Streams one object's bytes: a read-only, non-seekable raw binary file, iteration over chunks, ``with``.

    ``readinto`` copies from the chunk in hand, so ``io.BufferedReader(reader)`` (or anything that
    takes a raw file) does the buffering, ``readline`` included; ``read(n)`` returns ``n`` bytes
    unless the object ends first, and iterating yields the chunks as they come (not lines).
    Adapters build it from an iterator of chunks and the SDK's close function; errors met while
    streaming are translated by ``translate`` (the adapter's edge) before they reach the caller.
    """

    def __init__(
        self,
        info: ObjectInfo,
        chunks: Iterator[bytes],
        *,
        close: Callable[[], None] | None = None,
        translate: Callable[[BaseException], BaseException] | None = None,
    ) -> None:
        super().__init__()
        self.info = info
        self._chunks = chunks
        self._close = close
        self._translate = translate
        self._pending = memoryview(b"")  # what is left of the chunk in hand

    def _next_chunk(self) -> bytes | None:
        try:
            return next(self._chunks)
        except StopIteration:
            return None
        except Exception as exc:
            translated = exc if self._translate is None else self._translate(exc)
            if translated is exc:  # not the SDK's (a failover error, a bug): as it is, not its own cause
                raise
            raise translated from exc

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed ObjectReader")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Bytes of the chunk in hand (the next one, if none is) into ``buffer``; 0 at the end."""
        self._check_open()
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left when it is negative or None), fewer only at the end."""
        if size is None or size < 0:
            return self.readall()
        out = bytearray(size)
        with memoryview(out) as view:
            filled = 0
            while filled < size and (count := self.readinto(view[filled:])):
                filled += count
        del out[filled:]
        return bytes(out)

    def readall(self) -> bytes:
        self._check_open()
        parts = [bytes(self._pending)]
        self._pending = memoryview(b"")
        while (chunk := self._next_chunk()) is not None:
            parts.append(chunk)
        return b"".join(parts)

    def __iter__(self) -> Iterator[bytes]:
        """The chunks as they come (a file's iteration would yield lines: use a BufferedReader for those)."""
        self._check_open()
        return self._iter_chunks()

    def __next__(self) -> bytes:
        chunk = self._next_nonempty()
        if chunk is None:
            raise StopIteration
        return chunk

    def _next_nonempty(self) -> bytes | None:
        if self._pending:
            rest, self._pending = bytes(self._pending), memoryview(b"")
            return rest
        while (chunk := self._next_chunk()) is not None:
            if chunk:
                return chunk
        return None

    def _iter_chunks(self) -> Iterator[bytes]:
        while (chunk := self._next_nonempty()) is not None:
            yield chunk

    def close(self) -> None:
        """Close the SDK's stream (once); reading afterwards raises ValueError."""
        if self.closed:
            return
        try:
            close = getattr(self, "_close", None)  # absent when __init__ failed (close runs on collection)
            if close is not None:
                close()
        finally:
            super().close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_within(reader: ObjectReader, deadline: Deadline, *, operation: str = "get", key: str | None = None) -> bytes:
    """All of ``reader``'s bytes, or `ProviderUnavailable` (a read timeout) once ``deadline`` has passed.

    An adapter's timeout bounds each socket read, not the transfer: a store trickling 100 KB/s
    answers every read in time and takes 10 s for 1 MiB. The deadline is checked between chunks, so
    a whole read ends at most one chunk's time after it (the adapters keep chunks small or ranged).
    """
    parts: list[bytes] = []
    size = 0
    for chunk in reader:
        parts.append(chunk)
        size += len(chunk)
        if deadline.expired and size != reader.info.size:
            raise ProviderUnavailable(
                f"the call's deadline passed with {size} of {reader.info.size} bytes read",
                reason=Reason.READ_TIMEOUT,
                provider=reader.info.provider,
                operation=operation,
                key=key,
            )
    return b"".join(parts)

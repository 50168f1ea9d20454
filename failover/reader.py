"""`ObjectReader`: the streaming body of one object, the same for every adapter; `read_within`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from failover.errors import ProviderUnavailable, Reason

if TYPE_CHECKING:
    from failover.interfaces import ObjectInfo
    from failover.policy.deadline import Deadline

__all__ = ["ObjectReader", "read_within"]


class ObjectReader:
    """Streams one object's bytes: ``read()``, ``read(n)``, iteration over chunks, ``with``.

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
        self.info = info
        self._chunks = chunks
        self._close = close
        self._translate = translate
        self._buffer = bytearray()
        self._closed = False

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

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when ``size`` is negative); b"" at the end."""
        if size < 0:
            parts = [bytes(self._buffer)]
            self._buffer.clear()
            while (chunk := self._next_chunk()) is not None:
                parts.append(chunk)
            return b"".join(parts)
        while len(self._buffer) < size:
            chunk = self._next_chunk()
            if chunk is None:
                break
            self._buffer += chunk
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def readable(self) -> bool:
        return True

    def __iter__(self) -> Iterator[bytes]:
        if self._buffer:
            yield bytes(self._buffer)
            self._buffer.clear()
        while (chunk := self._next_chunk()) is not None:
            if chunk:
                yield chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._close is not None:
                self._close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> ObjectReader:
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

"""`ObjectReader`: the streaming body of one object, the same for every adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from failover.interfaces import ObjectInfo

__all__ = ["ObjectReader"]


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

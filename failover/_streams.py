"""Bodies for uploads: size and sha256 known before the first byte is sent, memory bounded.

The sha256 of an object goes into its user metadata, which every provider takes before the body.
So the body is hashed first: bytes at once, a seekable file in one read pass (then rewound), any
other stream copied into a spool file that stays in memory up to `SPOOL_MEMORY` bytes, hashed as it
is copied. A `HashedStream` (the view `FailoverStorage` hands each attempt) is not read again: its
size and sha256 were computed from the caller's body once, for every store.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

from failover.errors import InvalidRequest
from failover.interfaces import Data
from failover.keys import validate_body, validate_size

__all__ = ["CHUNK_SIZE", "SPOOL_MEMORY", "HashedStream", "PreparedBody", "iter_chunks", "prepare_body"]

CHUNK_SIZE = 1024 * 1024
SPOOL_MEMORY = 8 * 1024 * 1024


@dataclass(slots=True)
class PreparedBody:
    """An upload body positioned at its start, with its size and sha256 (hex)."""

    stream: IO[bytes]
    size: int
    sha256: str
    _owned: bool = False

    def close(self) -> None:
        if self._owned:
            self.stream.close()


class HashedStream(io.RawIOBase):
    """A seekable body whose ``size`` and ``sha256`` (hex) are known: `prepare_body` trusts them."""

    size: int
    sha256: str


def iter_chunks(stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while chunk := stream.read(chunk_size):
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidRequest(
                f"a body's read() returns bytes, not {type(chunk).__name__}",
                rule="body.type",
                imposed_by="failover",
            )
        yield chunk


class _Window(io.RawIOBase):
    """A caller's seekable file seen from the position it was handed over at."""

    def __init__(self, inner: IO[bytes], start: int, size: int) -> None:
        self._inner, self._start, self._size = inner, start, size
        inner.seek(start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._inner.tell() - self._start

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.tell(), io.SEEK_END: self._size}[whence]
        target = min(max(base + offset, 0), self._size)
        self._inner.seek(self._start + target)
        return target

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        left = self._size - self.tell()
        if left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), left)]
        data = self._inner.read(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        left = self._size - self.tell()
        return self._inner.read(left if size < 0 else min(size, left))


def prepare_body(data: Data, *, max_size: int, provider: str, in_place: bool = True) -> PreparedBody:
    """Hash and size ``data``; raise `InvalidRequest` if it is not a body or larger than ``max_size``.

    ``in_place=False`` spools a seekable file too, so that the caller's file is not read after return.
    """
    validate_body(data)
    if isinstance(data, HashedStream):
        validate_size(data.size, max_size, provider)
        data.seek(0)
        return PreparedBody(cast(IO[bytes], data), data.size, data.sha256)
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        validate_size(len(raw), max_size, provider)
        return PreparedBody(io.BytesIO(raw), len(raw), hashlib.sha256(raw).hexdigest(), _owned=True)
    stream = cast(IO[bytes], data)
    digest = hashlib.sha256()
    if in_place and _seekable(stream):
        start = stream.tell()
        size = 0
        for chunk in iter_chunks(stream):
            digest.update(chunk)
            size += len(chunk)
            validate_size(size, max_size, provider)
        return PreparedBody(cast(IO[bytes], _Window(stream, start, size)), size, digest.hexdigest())
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - closed by PreparedBody
    size = 0
    try:
        for chunk in iter_chunks(stream):
            digest.update(chunk)
            size += len(chunk)
            validate_size(size, max_size, provider)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return PreparedBody(cast(IO[bytes], spool), size, digest.hexdigest(), _owned=True)


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False

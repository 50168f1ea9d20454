"""`EncryptingStream`: the ciphertext of a seekable plaintext, as a seekable file, one segment in memory.

Segments are sealed on demand from the position asked for, so the store below can hash the body in
one pass, rewind and upload it (or upload it to several providers at once, each from its own
position) without the ciphertext ever existing whole anywhere.
"""

from __future__ import annotations

import io
from typing import IO

from failover.crypto._format import CIPHER_SEGMENT, SEGMENT_SIZE, ObjectKeys, ciphertext_size, segment_count

__all__ = ["EncryptingStream", "seal_bytes"]


def seal_bytes(plaintext: bytes, keys: ObjectKeys) -> bytes:
    """The whole ciphertext of ``plaintext`` at once: one pass, for a body the caller holds in memory."""
    count = segment_count(len(plaintext))
    view = memoryview(plaintext)
    return b"".join(
        keys.seal_segment(index, index == count - 1, view[index * SEGMENT_SIZE : (index + 1) * SEGMENT_SIZE])
        for index in range(count)
    )


class EncryptingStream(io.RawIOBase):
    def __init__(self, plaintext: IO[bytes], size: int, keys: ObjectKeys) -> None:
        self._plaintext = plaintext
        self._plain_size = size
        self._keys = keys
        self._count = segment_count(size)
        self._size = ciphertext_size(size)
        self._position = 0
        self._cached: tuple[int, bytes] | None = None

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = min(max(base + offset, 0), self._size)
        return self._position

    def _segment(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        self._plaintext.seek(index * SEGMENT_SIZE)
        want = min(SEGMENT_SIZE, self._plain_size - index * SEGMENT_SIZE)
        plain = self._plaintext.read(want) if want > 0 else b""
        if len(plain) != want:
            raise OSError(f"the plaintext ended early: segment {index} has {len(plain)} of {want} bytes")
        sealed = self._keys.seal_segment(index, index == self._count - 1, plain)
        self._cached = (index, sealed)
        return sealed

    def read(self, size: int | None = -1) -> bytes:
        left = self._size - self._position
        wanted = left if size is None or size < 0 else min(size, left)
        parts: list[bytes] = []
        while wanted > 0:
            index, offset = divmod(self._position, CIPHER_SEGMENT)
            piece = self._segment(index)[offset : offset + wanted]
            parts.append(piece)
            self._position += len(piece)
            wanted -= len(piece)
        return b"".join(parts)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

"""The ciphertext of a put's body, as the seekable file the store below uploads.

`SealedBody`: a body the caller holds in memory, sealed whole in one pass straight into one buffer
(no copy of the ciphertext), its sha256 computed here so the store below does not hash it again.

`EncryptingStream`: the ciphertext of a seekable plaintext, one segment in memory. Segments are
sealed on demand from the position asked for, so the store below can hash the body in one pass,
rewind and upload it (or upload it to several providers at once, each from its own position)
without the ciphertext ever existing whole anywhere.
"""

from __future__ import annotations

import hashlib
import io
from typing import IO

from failover._streams import HashedStream
from failover.crypto._aead import TAG_SIZE
from failover.crypto._format import CIPHER_SEGMENT, SEGMENT_SIZE, ObjectKeys, ciphertext_size, segment_count

__all__ = ["EncryptingStream", "SealedBody"]


class SealedBody(HashedStream):
    """The whole ciphertext of ``plaintext``, sealed at once, read-only; its ``size`` and ``sha256`` known."""

    def __init__(self, plaintext: bytes, keys: ObjectKeys) -> None:
        count = segment_count(len(plaintext))
        sealed = bytearray(ciphertext_size(len(plaintext)))
        source, target = memoryview(plaintext), memoryview(sealed)
        for index in range(count):
            piece = source[index * SEGMENT_SIZE : (index + 1) * SEGMENT_SIZE]
            at = index * CIPHER_SEGMENT
            keys.seal_segment_into(index, index == count - 1, piece, target[at : at + len(piece) + TAG_SIZE])
        self._view = target.toreadonly()
        self.size = len(sealed)
        self.sha256 = hashlib.sha256(self._view).hexdigest()
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = min(max(base + offset, 0), self.size)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        stop = self.size if size is None or size < 0 else min(self._position + size, self.size)
        data = bytes(self._view[self._position : stop])
        self._position = max(stop, self._position)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        stop = min(self._position + len(buffer), self.size)
        taken = stop - self._position
        buffer[:taken] = self._view[self._position : stop]
        self._position = stop
        return taken


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

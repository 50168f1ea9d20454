"""A put's body that every attempt can send again, in turn or at once (mirrored writes).

The body is read and hashed once, here: bytes are hashed as they are (and shared, not copied);
any other body goes through `failover._streams.prepare_body`: a seekable file is hashed in one pass
and then used in place from the position it was handed over at, a non-seekable stream is copied
into a spool (in memory up to 8 MiB, then on disk) and hashed while it is copied.

In mirror mode (``in_place=False``) a seekable file is spooled like a stream: writes to the slower
stores go on after the put returned, when the caller may have closed or changed the file.

Each attempt then gets its own `_Cursor`: a seekable, read-only view with its own position, so that
parallel attempts read the one underlying file in turns, under a lock, never whole into memory. A
cursor is a `HashedStream`: the adapter takes its size and sha256 as they are and reads it once, to
send it. So a put reads a non-seekable source once, a seekable one in primary mode once to hash it
and once per store it is sent to, and any source in mirror mode once.

The body lives as long as its last user: `retain` for each write that outlives the put, `close`
by each user when done; the spool is released by the last `close`.
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import IO, BinaryIO, cast

from failover._streams import HashedStream, PreparedBody, prepare_body
from failover.interfaces import Data
from failover.keys import validate_size

__all__ = ["ReplayableBody"]


class ReplayableBody:
    """The body of one put: ``size`` and ``sha256`` known, `open` once per attempt."""

    def __init__(self, data: Data, *, max_size: int, provider: str, in_place: bool = True) -> None:
        if isinstance(data, bytes | bytearray | memoryview):
            raw = bytes(data)  # a bytearray or a view could change under the attempts; bytes are kept as is
            validate_size(len(raw), max_size, provider)
            self._prepared = PreparedBody(io.BytesIO(raw), len(raw), hashlib.sha256(raw).hexdigest(), _owned=True)
        else:
            self._prepared = prepare_body(data, max_size=max_size, provider=provider, in_place=in_place)
        self.size = self._prepared.size
        self.sha256 = self._prepared.sha256
        self._lock = threading.Lock()
        self._users = 1

    def retain(self) -> None:
        """One more user (a write still running after the put returned); it calls `close` when done."""
        with self._lock:
            self._users += 1

    def open(self) -> Data:
        """A view of the body, positioned at its start, for one attempt."""
        return cast(BinaryIO, _Cursor(self._prepared.stream, self._lock, self.size, self.sha256))

    def close(self) -> None:
        """One user is done; the last releases the spool (a caller's own file stays open)."""
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self._prepared.close()


class _Cursor(HashedStream):
    """A read-only, seekable view of a shared stream, with a position of its own."""

    def __init__(self, shared: IO[bytes], lock: threading.Lock, size: int, sha256: str) -> None:
        self._shared = shared
        self._lock = lock
        self.size = self._size = size
        self.sha256 = sha256
        self._position = 0

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

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        left = self._size - self._position
        wanted = left if size is None or size < 0 else min(size, left)
        if wanted <= 0:
            return b""
        with self._lock:
            self._shared.seek(self._position)
            data = self._shared.read(wanted)
        self._position += len(data)
        return data

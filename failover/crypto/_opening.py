"""Opening a range of an object: its ciphertext cut into batches of whole segments, each opened at once.

The store below hands over the ciphertext in chunks of any size (64 KiB from S3, a segment and 16
bytes less than the segment); they are joined into batches of `BATCH` whole segments, so the data is
copied once and the per-segment Python work is a slice and an AES-GCM call. Memory stays bounded by a
batch and a chunk of the store, whatever the object's size.

Every segment is authenticated before any of its bytes is returned, in order: a batch whose segment
``i`` fails yields the plaintext of its segments before ``i``, then raises that `IntegrityError`.

Measured and left out (``benchmarks/results/encryption.md``): opening batches in a worker thread
while the caller's thread downloads the next. AES-GCM in `cryptography` holds the GIL, and the
hand-over to the thread cost more CPU than it hid on a loaded two-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator

from failover.crypto._format import CIPHER_SEGMENT, SEGMENT_SIZE, ObjectKeys
from failover.errors import IntegrityError

__all__ = ["BATCH", "open_range"]

BATCH = 4  # segments per batch: 256 KiB of plaintext

_Opened = tuple[list[bytes], IntegrityError | None]


def open_range(
    keys: ObjectKeys, chunks: Iterator[bytes], *, first: int, count: int, ciphertext: int, start: int, stop: int
) -> Iterator[bytes]:
    """Plaintext ``[start, stop)`` from ``chunks``: ``ciphertext`` bytes in all, read from segment ``first`` on."""
    end = min(count, -(-stop // SEGMENT_SIZE))  # the segments touched: index * SEGMENT_SIZE < stop
    for index, batch in _batches(keys, chunks, first=first, end=end, count=count, ciphertext=ciphertext):
        pieces, error = _open_batch(keys, index, count, batch, start, stop)
        yield from pieces
        if error is not None:
            raise error


def _open_batch(keys: ObjectKeys, index: int, count: int, batch: bytes, start: int, stop: int) -> _Opened:
    """The plaintext of ``batch`` (segments from ``index``) within ``[start, stop)``, and the first failure."""
    pieces: list[bytes] = []
    error: IntegrityError | None = None
    view = memoryview(batch)
    for at in range(0, len(batch), CIPHER_SEGMENT):
        segment = index + at // CIPHER_SEGMENT
        try:
            plain = keys.open_segment(segment, count, view[at : at + CIPHER_SEGMENT])
        except IntegrityError as failed:
            error = failed
            break
        base = segment * SEGMENT_SIZE
        piece = plain[max(start - base, 0) : max(stop - base, 0)]  # the segment itself when it is all inside
        if piece:
            pieces.append(piece)
    return pieces, error


def _batches(
    keys: ObjectKeys, chunks: Iterator[bytes], *, first: int, end: int, count: int, ciphertext: int
) -> Iterator[tuple[int, bytes]]:
    """``(index, ciphertext of segments index..index+BATCH-1)`` up to segment ``end``, from chunks cut anywhere.

    Each batch is its own copy (the data is copied once, as a batch): a batch being opened never keeps
    a whole chunk of the store alive. A stream that ends early yields the whole segments it had, then
    raises `IntegrityError`.
    """
    pending, offset = memoryview(b""), 0  # unread ciphertext: pending[offset:], a view of one chunk
    index = first
    while index < end:
        segments = min(BATCH, end - index)
        want = min(segments * CIPHER_SEGMENT, ciphertext - index * CIPHER_SEGMENT)
        if len(pending) - offset >= want:
            batch = bytes(pending[offset : offset + want])
            offset += want
        else:
            parts, have = [pending[offset:]], len(pending) - offset
            while have < want:
                chunk = next(chunks, None)
                if chunk is None:
                    whole = have // CIPHER_SEGMENT
                    if whole:
                        yield index, b"".join(parts)[: whole * CIPHER_SEGMENT]
                    raise IntegrityError(
                        f"the object ended inside segment {index + whole}: truncated while read",
                        key_id=keys.key_id,
                        check=f"segment {index + whole} of {count}",
                        key=keys.key,
                    )
                take = min(want - have, len(chunk))
                pending, offset = memoryview(chunk), take
                parts.append(pending[:take])
                have += take
            batch = b"".join(parts)
        yield index, batch
        index += segments

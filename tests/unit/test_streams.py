"""prepare_body: size and sha256 known before upload, from bytes, a file at any position, or any stream."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator

import pytest

from failover._streams import SPOOL_MEMORY, iter_chunks, prepare_body
from failover.errors import InvalidRequest
from failover.interfaces import Data

BODY = bytes(range(256)) * 64


class _Pipe(io.RawIOBase):
    """A stream that cannot seek or tell, as a socket or a pipe."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self.closed_by_us = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("a pipe has no position")

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


def _pipe(data: bytes, chunk: int = 1000) -> io.BufferedReader:
    return io.BufferedReader(_Pipe(iter([data[i : i + chunk] for i in range(0, len(data), chunk)])))


@pytest.mark.parametrize("data", [BODY, bytearray(BODY), memoryview(BODY)], ids=["bytes", "bytearray", "memoryview"])
def test_bytes_like_body_is_sized_hashed_and_readable_from_the_start(data: Data) -> None:
    body = prepare_body(data, max_size=len(BODY), provider="aws")
    assert (body.size, body.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert body.stream.read() == BODY


def test_empty_body_has_the_sha256_of_nothing() -> None:
    body = prepare_body(b"", max_size=0, provider="aws")
    assert (body.size, body.sha256, body.stream.read()) == (0, hashlib.sha256(b"").hexdigest(), b"")


def test_seekable_file_at_a_non_zero_position_is_the_body_from_that_position() -> None:
    source = io.BytesIO(b"skip-me:" + BODY)
    source.seek(8)
    body = prepare_body(source, max_size=len(BODY), provider="gcs")
    assert (body.size, body.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert body.stream.read() == BODY, "the body did not start at the file's position"
    # An SDK that rewinds for a retry must land on the caller's position, not the file's start.
    assert body.stream.seek(0) == 0
    assert body.stream.read(5) == BODY[:5]
    assert body.stream.seek(0, io.SEEK_END) == len(BODY)
    assert body.stream.read() == b""


def test_seekable_file_is_read_in_place_and_left_open() -> None:
    source = io.BytesIO(BODY)
    body = prepare_body(source, max_size=len(BODY), provider="gcs")
    body.close()
    assert not source.closed, "prepare_body closed the caller's file"


def test_non_seekable_stream_is_spooled_and_replayable() -> None:
    body = prepare_body(_pipe(BODY), max_size=len(BODY), provider="azure")
    assert (body.size, body.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert body.stream.read() == BODY
    body.stream.seek(0)
    assert body.stream.read(3) == BODY[:3], "the spool cannot be re-read for a retry"
    body.close()
    assert body.stream.closed, "the spool prepare_body owns was not closed"


def test_non_seekable_stream_larger_than_the_spool_memory_round_trips() -> None:
    data = bytes(range(251)) * ((SPOOL_MEMORY + 10) // 251 + 1)
    body = prepare_body(_pipe(data, chunk=1024 * 1024), max_size=len(data), provider="azure")
    assert body.size == len(data)
    assert hashlib.sha256(b"".join(iter_chunks(body.stream))).hexdigest() == body.sha256
    body.close()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: BODY, id="bytes"),
        pytest.param(lambda: io.BytesIO(BODY), id="seekable"),
        pytest.param(lambda: _pipe(BODY), id="non-seekable"),
    ],
)
def test_body_larger_than_max_size_is_refused_naming_the_provider(make: Callable[[], Data]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        prepare_body(make(), max_size=len(BODY) - 1, provider="azure")
    assert (caught.value.rule, caught.value.imposed_by) == ("object.max_size", "azure")


def test_iter_chunks_yields_the_stream_in_pieces_of_at_most_chunk_size() -> None:
    chunks = list(iter_chunks(io.BytesIO(BODY), chunk_size=5000))
    assert [len(chunk) for chunk in chunks] == [5000, 5000, 5000, 1384]
    assert b"".join(chunks) == BODY

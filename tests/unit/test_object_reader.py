"""`ObjectReader` is an `io.RawIOBase`: `readinto` serves the standard library's buffering and file API."""

from __future__ import annotations

import io

import pytest

from failover.errors import ProviderUnavailable
from failover.interfaces import ObjectInfo
from failover.reader import ObjectReader

CHUNKS = [b"first line\nsec", b"ond line\n", b"", b"third"]
BODY = b"".join(CHUNKS)


def _reader(chunks: list[bytes] = CHUNKS, closed: list[int] | None = None) -> ObjectReader:
    info = ObjectInfo(key="k", size=sum(map(len, chunks)), provider="memory")
    return ObjectReader(info, iter(chunks), close=None if closed is None else lambda: closed.append(1))


def test_an_object_reader_is_a_raw_binary_file() -> None:
    reader = _reader()
    assert isinstance(reader, io.RawIOBase)
    assert reader.readable()
    assert not reader.seekable()
    assert not reader.writable()


def test_readinto_fills_the_buffer_from_the_chunks_and_gives_zero_at_the_end() -> None:
    reader = _reader()
    buffer = bytearray(10)
    got = bytearray()
    while n := reader.readinto(buffer):
        got += buffer[:n]
    assert bytes(got) == BODY


def test_buffered_reader_over_an_object_reader_reads_lines_and_sizes() -> None:
    with io.BufferedReader(_reader(), buffer_size=4) as buffered:
        assert buffered.readline() == b"first line\n"
        assert buffered.read(6) == b"second"
        assert buffered.read() == b" line\nthird"
        assert buffered.read() == b""


def test_read_of_a_size_returns_that_many_bytes_until_the_end() -> None:
    reader = _reader()
    pieces = [reader.read(3), reader.read(20), reader.read(100), reader.read(1)]
    assert [len(piece) for piece in pieces] == [3, 20, len(BODY) - 23, 0]
    assert b"".join(pieces) == BODY


def test_iteration_yields_the_chunks_not_lines_and_skips_empty_ones() -> None:
    reader = _reader()
    assert reader.read(2) == b"fi"
    assert list(reader) == [b"rst line\nsec", b"ond line\n", b"third"]


def test_close_closes_the_sdk_stream_once_and_reading_after_it_fails() -> None:
    closed: list[int] = []
    reader = _reader(closed=closed)
    with reader:
        reader.read(1)
    reader.close()
    assert reader.closed
    assert closed == [1]
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)


def test_an_error_while_streaming_comes_translated_through_readinto() -> None:
    def chunks() -> object:
        yield b"ab"
        raise ConnectionResetError("reset")

    info = ObjectInfo(key="k", size=4, provider="memory")
    reader = ObjectReader(info, iter(chunks()), translate=lambda exc: ProviderUnavailable("reset mid-read"))  # type: ignore[call-overload]
    with pytest.raises(ProviderUnavailable) as caught:
        io.BufferedReader(reader).read()
    assert isinstance(caught.value.__cause__, ConnectionResetError)

"""The proxy finds where each request starts and ends, however the bytes are split."""

from __future__ import annotations

import pytest

from failover.testing.faults import FaultProxy
from failover.testing.faults._http import ChunkedScanner, parse_head, sniff_request_line

CHUNKED = b"5;ext=1\r\nhello\r\n1A\r\n" + b"z" * 26 + b"\r\n0\r\nX-Checksum: abc\r\n\r\n"


def test_a_chunked_body_ends_exactly_after_its_trailers_whatever_the_split() -> None:
    tail = b"GET /next HTTP/1.1\r\n"
    for size in (1, 2, 3, 7, len(CHUNKED) + len(tail)):
        scanner, consumed, end = ChunkedScanner(), 0, None
        stream = CHUNKED + tail
        for start in range(0, len(stream), size):
            piece = stream[start : start + size]
            end = scanner.feed(piece)
            if end is not None:
                consumed += end
                break
            consumed += len(piece)
        assert consumed == len(CHUNKED), f"split by {size}"


def test_a_bad_chunk_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        ChunkedScanner().feed(b"zz\r\n")


@pytest.mark.parametrize(
    ("prefix", "verdict"),
    [
        (b"", None),
        (b"GE", None),
        (b"GET /a HTTP/1.", None),
        (b"GET /a HTTP/1.1\r\n", True),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", False),  # gRPC's HTTP/2 preface
        (b"PRI * HTTP/2", False),
        (b"\x16\x03\x01\x02\x00", False),  # a TLS client hello
        (b"get / HTTP/1.1\r\n", False),
    ],
)
def test_http_is_told_from_other_protocols_by_the_first_bytes(prefix: bytes, verdict: bool | None) -> None:
    assert sniff_request_line(prefix) is verdict


def test_a_head_gives_the_body_framing() -> None:
    head = parse_head(
        b"PUT /k HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\nExpect: 100-Continue\r\nX-Folded: a\r\n b\r\n\r\n"
    )
    assert (head.method, head.target, head.content_length, head.chunked) == ("PUT", "/k", 12, False)
    assert head.expect_continue
    assert head.header("x-folded") == "a b"
    chunked = parse_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
    assert (chunked.chunked, chunked.content_length) == (True, 0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Content-Length"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "no end"),
    ],
)
def test_a_head_whose_body_has_no_findable_end_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_head(raw)


def test_a_proxy_is_made_from_an_endpoint_url() -> None:
    proxy = FaultProxy.in_front_of("http://127.0.0.1:4566")
    assert proxy.upstream == ("127.0.0.1", 4566)
    with pytest.raises(ValueError, match="host and a port"):
        FaultProxy.in_front_of("http://127.0.0.1")

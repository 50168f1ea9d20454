"""Just enough HTTP/1.1 to find where each request starts and ends in a client's byte stream.

The proxy never rewrites a forwarded byte: it reads a request's head, decides what to do with the
request, then forwards the head and the body as they came, using the framing only to know where the
next request begins (``Content-Length``, or the chunked coding scanned as it streams past).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_HEAD", "ChunkedScanner", "RequestHead", "parse_head", "sniff_request_line"]

MAX_HEAD = 64 * 1024  # a longer head is not a request the SDKs send: the connection is then forwarded raw
_MAX_LINE = 16 * 1024
_REQUEST_LINE = re.compile(rb"[A-Z]{1,20} [\x21-\x7e]+ HTTP/1\.[01]\r\n")
_METHOD_PREFIX = re.compile(rb"[A-Z]{0,20}")
_TARGET_PREFIX = re.compile(rb"[\x21-\x7e]*")
_VERSIONS = (b"HTTP/1.0\r", b"HTTP/1.1\r")


def sniff_request_line(prefix: bytes) -> bool | None:
    """Whether a connection that began with ``prefix`` speaks HTTP/1.x; None while it cannot tell.

    Decides from the first bytes that rule HTTP/1 out, so a client that sends a few bytes and waits
    (a TLS hello, the HTTP/2 preface of gRPC) is never held back.
    """
    end = prefix.find(b"\r\n")
    if end >= 0:
        return _REQUEST_LINE.fullmatch(prefix[: end + 2]) is not None
    if len(prefix) > _MAX_LINE:
        return False
    method, *rest = prefix.split(b" ")
    if len(rest) > 2 or not _METHOD_PREFIX.fullmatch(method) or (rest and not method):
        return False
    if rest and not _TARGET_PREFIX.fullmatch(rest[0]):
        return False
    if len(rest) == 2 and not (rest[0] and any(version.startswith(rest[1]) for version in _VERSIONS)):
        return False
    return None


@dataclass(frozen=True)
class RequestHead:
    """A request line and its headers, with the body's framing."""

    raw: bytes
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]  # names lower-cased, in order
    content_length: int  # 0 when chunked
    chunked: bool
    expect_continue: bool
    upgrade: bool  # CONNECT or Upgrade: the connection stops being HTTP after this head

    def header(self, name: str) -> str | None:
        """The first value of the header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


def parse_head(raw: bytes) -> RequestHead:
    """Parse a request head (request line to the blank line, included); ValueError when malformed."""
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"malformed header line {line!r}")
        headers.append((name.lower(), value.strip()))
    values = {name: [value for key, value in headers if key == name] for name, _ in headers}
    codings = [coding.strip().lower() for value in values.get("transfer-encoding", []) for coding in value.split(",")]
    chunked = bool(codings) and codings[-1] == "chunked"
    if codings and not chunked:
        raise ValueError(f"a request body framed by {codings!r} has no end the proxy can find")
    lengths = {value.strip() for value in values.get("content-length", [])}
    if len(lengths) > 1 or not all(length.isdigit() for length in lengths):
        raise ValueError(f"bad Content-Length {sorted(lengths)!r}")
    content_length = 0 if chunked or not lengths else int(lengths.pop())
    connection = {token.strip().lower() for value in values.get("connection", []) for token in value.split(",")}
    return RequestHead(
        raw=raw,
        method=method,
        target=target,
        headers=tuple(headers),
        content_length=content_length,
        chunked=chunked,
        expect_continue=any(value.lower() == "100-continue" for value in values.get("expect", [])),
        upgrade=method == "CONNECT" or ("upgrade" in connection and "upgrade" in values),
    )


class ChunkedScanner:
    """Follows a chunked body as it streams past and says where it ends; never changes a byte."""

    def __init__(self) -> None:
        self._state = "size"  # size | data | data_end | trailer
        self._remaining = 0
        self._line = bytearray()

    def feed(self, data: bytes) -> int | None:
        """How many bytes of ``data`` finish the body, or None if all of it belongs to the body."""
        index = 0
        while index < len(data):
            if self._state in ("data", "data_end"):
                taken = min(self._remaining, len(data) - index)
                index += taken
                self._remaining -= taken
                if not self._remaining:
                    self._state, self._remaining = ("data_end", 2) if self._state == "data" else ("size", 0)
                continue
            newline = data.find(b"\n", index)
            if newline < 0:
                self._line += data[index:]
                if len(self._line) > _MAX_LINE:
                    raise ValueError("chunk size or trailer line too long")
                return None
            self._line += data[index : newline + 1]
            index = newline + 1
            line = bytes(self._line).strip()
            self._line.clear()
            if self._state == "trailer":
                if not line:
                    return index
            else:
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size < 0:
                    raise ValueError(f"negative chunk size in {line!r}")
                self._state, self._remaining = ("data", size) if size else ("trailer", 0)
        return None

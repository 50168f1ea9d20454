"""What the adapters' error tests share: a local HTTP server that answers as a provider fails, and
the check that an error was translated at the adapter's edge; a body that breaks mid-upload."""

from __future__ import annotations

import contextlib
import http.server
import io
import threading
from collections.abc import Callable, Iterator
from typing import Any

from failover.errors import FailoverError

__all__ = ["Answer", "AnsweringHandler", "BreaksOnSecondPass", "ServeHttp", "assert_translated", "serving"]

# (status, headers, body, declared Content-Length or None for the body's own)
Answer = tuple[int, dict[str, str], bytes, int | None]
# The ``serve_http`` fixture: starts a server for a handler class, returns its endpoint.
ServeHttp = Callable[[type[http.server.BaseHTTPRequestHandler]], str]


class AnsweringHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with what `answer` returns; the request's body is read and dropped.

    A declared length longer than the body ends the connection mid-body, as a connection that broke.
    """

    protocol_version = "HTTP/1.1"

    def answer(self) -> Answer:
        raise NotImplementedError

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body, declared = self.answer()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if declared is None else declared))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if declared is not None:
            self.close_connection = True

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _reply  # noqa: N815 - http.server dispatches on these names

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve ``handler`` on a free loopback port, from a thread, until the block ends; yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def assert_translated(
    error: FailoverError, *, provider: str, sdk_modules: tuple[str, ...], operation: str, key: str | None = None
) -> None:
    """``error`` names ``provider``, ``operation`` and ``key``, and keeps as its cause the exception of
    a package in ``sdk_modules`` it was translated from."""
    cause = error.__cause__
    assert cause is not None, f"{error!r} lost the SDK exception it came from"
    assert not isinstance(cause, FailoverError), f"the cause of {error!r} is failover's own {cause!r}"
    assert type(cause).__module__.split(".")[0] in sdk_modules, f"the cause is {cause!r}, not from {sdk_modules}"
    assert (error.provider, error.operation, error.key) == (provider, operation, key), (
        f"the error names provider={error.provider!r} operation={error.operation!r} key={error.key!r}"
    )


class BreaksOnSecondPass(io.RawIOBase):
    """A seekable file that calls ``breaks`` once its second pass (the upload, after the hash) reaches ``at``."""

    def __init__(self, data: bytes, at: int, breaks: Callable[[], None]) -> None:
        self._inner = io.BytesIO(data)
        self._trigger = len(data) + at
        self._breaks = breaks
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._inner.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.bytes_read >= self._trigger:
            self._breaks()
        count = self._inner.readinto(buffer)
        self.bytes_read += count
        return count

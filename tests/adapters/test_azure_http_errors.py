"""HTTP answers Azurite never gives (5xx, 429, a body cut mid-stream) become the right failover errors.

A small local HTTP server answers the SDK's requests the way Blob Storage does when it is busy,
failing or cut off: real HTTP on a real socket, not a mock of the SDK.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from failover.errors import AccessDenied, Disposition, OutcomeUnknown, ProviderUnavailable, Reason
from failover.testing.emulators import Azurite, LocalClouds
from tests.adapters.azure_support import BLOB_CALLS, assert_from_azure, blob_at

pytestmark = pytest.mark.emulator


@pytest.fixture
def azurite(local_clouds: LocalClouds) -> Azurite:
    return local_clouds.azure


class _Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    status = 500
    code = "InternalError"
    chunked_body: bytes | None = None  # when set: serve a blob of that content, cut after its first MiB

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.chunked_body is not None and self.command == "GET":
            self._serve_blob(self.chunked_body)
            return
        self.send_response(self.status)
        self.send_header("x-ms-error-code", self.code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve_blob(self, body: bytes) -> None:
        start, end = (int(part) for part in self.headers["x-ms-range"].split("=")[1].split("-"))
        end = min(end, len(body) - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("ETag", '"0x1"')
        self.send_header("x-ms-blob-type", "BlockBlob")
        self.end_headers()
        part = body[start : end + 1]
        if start == 0:
            self.wfile.write(part)
        else:  # later chunks break half way: the connection closes before Content-Length bytes
            self.wfile.write(part[: len(part) // 2])
            self.close_connection = True

    do_GET = do_PUT = do_HEAD = do_DELETE = _reply  # noqa: N815 - http.server dispatches on these names

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _answering(status: int, code: str, *, blob: bytes | None = None) -> Iterator[int]:
    handler = type("Handler", (_Answer,), {"status": status, "code": code, "chunked_body": blob})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (503, "ServerBusy", Reason.THROTTLED),
        (429, "TooManyRequests", Reason.THROTTLED),
        (500, "InternalError", Reason.SERVER_ERROR),
        (502, "BadGateway", Reason.SERVER_ERROR),
    ],
)
@pytest.mark.parametrize("operation", ["get", "put"])
def test_server_error_and_throttling_raise_provider_unavailable_to_retry(
    azurite: Azurite, unique_name: str, status: int, code: str, reason: Reason, operation: str
) -> None:
    with _answering(status, code) as port:
        store = blob_at(azurite, unique_name, "127.0.0.1", port)
        with pytest.raises(ProviderUnavailable) as caught:
            BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert caught.value.reason is reason, f"{status} {code} gave reason {caught.value.reason}"
    assert caught.value.disposition is Disposition.RETRY, f"{status} {code} is worth a retry"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("AuthorizationPermissionMismatch", Reason.FORBIDDEN),  # a role without read access to this blob
        ("AuthenticationFailed", Reason.AUTH),  # the key or token: every call would be refused
    ],
)
@pytest.mark.parametrize("operation", ["get", "head"])
def test_a_refusal_by_policy_is_told_from_rejected_credentials(
    azurite: Azurite, unique_name: str, code: str, reason: Reason, operation: str
) -> None:
    with _answering(403, code) as port:
        store = blob_at(azurite, unique_name, "127.0.0.1", port)
        with pytest.raises(AccessDenied) as caught:
            BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert caught.value.reason is reason, f"403 {code} gave reason {caught.value.reason}"


def test_server_timeout_of_a_write_raises_outcome_unknown(azurite: Azurite, unique_name: str) -> None:
    # Azure documents 500 OperationTimedOut as "may or may not have succeeded on the server side".
    with _answering(500, "OperationTimedOut") as port:
        store = blob_at(azurite, unique_name, "127.0.0.1", port)
        with pytest.raises(OutcomeUnknown) as caught:
            store.put("k", b"v")
    assert_from_azure(caught.value, "put")


@pytest.mark.timeout(60)
def test_body_cut_mid_stream_raises_provider_unavailable_reset_while_reading(
    azurite: Azurite, unique_name: str
) -> None:
    blob = bytes(range(256)) * (12 * 1024)  # 3 MiB: three 1 MiB chunks
    with _answering(200, "", blob=blob) as port:
        store = blob_at(azurite, unique_name, "127.0.0.1", port)
        reader = store.get("k")
        assert reader.info.size == len(blob), f"the reader reports {reader.info.size} bytes"
        assert reader.read(1024 * 1024) == blob[: 1024 * 1024], "the first chunk was not served whole"
        with pytest.raises(ProviderUnavailable) as caught:
            reader.read()
    assert_from_azure(caught.value, "get")
    assert caught.value.reason is Reason.RESET, f"reason {caught.value.reason}"
    assert caught.value.disposition is Disposition.RETRY

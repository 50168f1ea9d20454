"""An upload cut mid-stream leaves nothing behind on GCS (its resumable session is cancelled); what
Azure's staged blocks leave, and why the adapter cannot drop them."""

from __future__ import annotations

import http.server
import threading
from typing import Any, BinaryIO, ClassVar, cast
from urllib.parse import urlsplit

import pytest
import requests

from failover.adapters.azure import AzureBlobStore
from failover.adapters.gcp import GcsStore
from failover.adapters.gcp._resumable import Sessions
from failover.config import GcsConfig
from failover.errors import FailoverError, NotFound
from failover.testing.emulators import LocalClouds
from tests.adapters.support import BreaksOnSecondPass, ServeHttp

MiB = 1024 * 1024
GCS_BODY = b"g" * (9 * MiB)  # over the SDK's 8 MiB multipart limit: a resumable upload
SMALL_CHUNKS = {"chunk_size": 256 * 1024}


def disk_went_away() -> None:
    raise OSError("the disk went away")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The resumable uploads each failed put tried to cancel: (upload, transport)."""
    seen: list[Any] = []
    cancel = Sessions.cancel_unfinished

    def recording(self: Sessions, uploads: list[Any], timeout: float) -> None:
        seen.extend(uploads)
        cancel(self, uploads, timeout)

    monkeypatch.setattr(Sessions, "cancel_unfinished", recording)
    return seen


@pytest.mark.emulator
def test_a_gcs_upload_cut_mid_stream_creates_no_object_and_its_cancel_is_answered(
    local_clouds: LocalClouds, unique_name: str, opened: list[Any]
) -> None:
    store = GcsStore(local_clouds.gcs.gcs_config(unique_name, ensure=True, **SMALL_CHUNKS))
    try:
        with pytest.raises((OSError, FailoverError), match="disk went away"):
            store.put("big", cast(BinaryIO, BreaksOnSecondPass(GCS_BODY, 2 * MiB, disk_went_away)))
        assert [upload.finished for upload, _ in opened] == [False], "no resumable session was opened"
        assert len(store._sessions) == 0, "the cancel was not answered: the session is kept for a retry"
        with pytest.raises(NotFound):
            store.head("big")
    finally:
        store.close()


@pytest.mark.emulator
@pytest.mark.xfail(
    strict=True,
    reason="fake-gcs-server answers the cancel (DELETE on the session URL) with 499 and keeps the session: "
    "its deleteResumableUpload handler (fakestorage/upload.go) does nothing else, so the session still takes "
    "chunks; GCS documents 499 and a 404 for the session afterwards (not measured on GCS). The DELETE itself "
    "is checked on a local HTTP server below.",
)
def test_a_cancelled_gcs_session_takes_no_more_chunks(
    local_clouds: LocalClouds, unique_name: str, opened: list[Any]
) -> None:
    store = GcsStore(local_clouds.gcs.gcs_config(unique_name, ensure=True, **SMALL_CHUNKS))
    try:
        with pytest.raises((OSError, FailoverError), match="disk went away"):
            store.put("big", cast(BinaryIO, BreaksOnSecondPass(GCS_BODY, 2 * MiB, disk_went_away)))
        (upload, _), *_ = opened
        last = len(GCS_BODY) - 1
        answer = requests.put(
            upload.resumable_url, data=b"g", headers={"Content-Range": f"bytes {last}-{last}/{len(GCS_BODY)}"}
        )
        assert answer.status_code in (404, 410), f"the cancelled session answered {answer.status_code}"
    finally:
        store.close()


class ResumableGcs(http.server.BaseHTTPRequestHandler):
    """GCS's resumable upload, enough for the SDK: POST opens a session, PUTs of chunks are answered
    308, DELETE of the session is answered with ``cancel_status`` (499: cancelled). Records requests."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[tuple[str, str]]] = []
    cancel_status: ClassVar[list[int]] = [499]  # one per DELETE, the last one repeated
    lock = threading.Lock()

    def _read_body(self) -> int:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        return length

    def _send(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self._read_body()
        with self.lock:
            self.requests.append(("POST", self.path))
        bucket = urlsplit(self.path).path.split("/")[5]
        session = f"http://{self.headers['Host']}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id=s1"
        self._send(200, {"Location": session})

    def do_PUT(self) -> None:
        received = self._read_body()
        with self.lock:
            self.requests.append(("PUT", self.path))
            puts = sum(1 for method, _ in self.requests if method == "PUT")
        self._send(308, {"Range": f"bytes=0-{puts * received - 1}"})

    def do_DELETE(self) -> None:
        with self.lock:
            self.requests.append(("DELETE", self.path))
            status = self.cancel_status.pop(0) if len(self.cancel_status) > 1 else self.cancel_status[0]
        self._send(status, {})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def resumable_gcs(serve_http: ServeHttp) -> str:
    ResumableGcs.requests = []
    ResumableGcs.cancel_status = [499]
    return serve_http(ResumableGcs)


def test_a_gcs_upload_cut_mid_stream_deletes_its_resumable_session(resumable_gcs: str) -> None:
    store = GcsStore(
        GcsConfig(bucket="orders", endpoint_url=resumable_gcs, project="p", anonymous=True, **SMALL_CHUNKS)
    )
    try:
        with pytest.raises((OSError, FailoverError), match="disk went away"):
            store.put("big", cast(BinaryIO, BreaksOnSecondPass(GCS_BODY, MiB, disk_went_away)))
    finally:
        store.close()
    methods = [method for method, _ in ResumableGcs.requests]
    assert methods[0] == "POST", f"not a resumable upload: {methods}"
    assert "PUT" in methods, f"no chunk sent: {methods}"
    assert ResumableGcs.requests[-1] == ("DELETE", "/upload/storage/v1/b/orders/o?uploadType=resumable&upload_id=s1")


def test_a_gcs_session_whose_cancel_failed_is_cancelled_after_the_next_put(resumable_gcs: str) -> None:
    ResumableGcs.cancel_status = [503, 499]
    store = GcsStore(
        GcsConfig(bucket="orders", endpoint_url=resumable_gcs, project="p", anonymous=True, **SMALL_CHUNKS)
    )
    try:
        with pytest.raises((OSError, FailoverError), match="disk went away"):
            store.put("big", cast(BinaryIO, BreaksOnSecondPass(GCS_BODY, MiB, disk_went_away)))
        assert len(store._sessions) == 1, "a cancel answered 503 was not kept for a retry"
        store._sessions.retry(1.0)  # what the next put that succeeds does
        assert len(store._sessions) == 0
    finally:
        store.close()
    assert [method for method, _ in ResumableGcs.requests].count("DELETE") == 2


@pytest.mark.emulator
@pytest.mark.xfail(
    strict=True,
    reason="Azure's blob API has no call that drops the uncommitted blocks of a blob never committed: Delete "
    "Blob removes committed blobs, and committing any block list (even an empty one) would create or replace "
    "the object readers see. The service discards them a week after the last Put Block (Put Block documentation; "
    "not measured on Azure). Azurite shows them with Get Block List.",
)
def test_an_azure_upload_cut_mid_stream_leaves_no_uncommitted_blocks(
    local_clouds: LocalClouds, unique_name: str
) -> None:
    config = local_clouds.azure.azure_blob_config(unique_name, ensure=True, block_size=256 * 1024, max_concurrency=1)
    store = AzureBlobStore(config)
    body = b"a" * (2 * MiB)  # 8 staged blocks
    try:
        with pytest.raises((OSError, FailoverError), match="disk went away"):
            store.put("big", cast(BinaryIO, BreaksOnSecondPass(body, MiB, disk_went_away)))
        blob = store._container.get_blob_client("big")
        _, uncommitted = blob.get_block_list("uncommitted")
        assert uncommitted == [], f"{len(uncommitted)} uncommitted blocks left"
    finally:
        store.close()

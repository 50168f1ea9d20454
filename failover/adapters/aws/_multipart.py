"""S3 multipart upload of a prepared body, with the put's condition kept to the end.

boto3's managed transfer (``upload_fileobj``) cannot pass ``If-Match`` to CompleteMultipartUpload and
holds up to ten parts in memory, so the adapter runs the few calls itself: at most
``max_concurrency`` parts are read and in flight at once, and the condition goes on the completing
call, where S3 judges it atomically. A condition is also checked with a HEAD before the first part,
so a put bound to fail does not upload gigabytes first (and so that emulators which ignore the
condition on completion still refuse the common, non-racing case).

A failed upload is aborted (S3 bills its parts until then). When the abort fails too (the network
that broke the upload is still down), the upload is kept in `Unaborted`, and the store aborts it
after its next call that succeeds, or when it closes.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import IO, TYPE_CHECKING

from failover._streams import PreparedBody
from failover.adapters.aws._errors import translate_errors
from failover.errors import NotFound, PreconditionFailed

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["MAX_PARTS", "Unaborted", "check_condition", "part_size_for", "upload_multipart"]

log = logging.getLogger(__name__)

MAX_PARTS = 10_000  # S3's limit on the parts of one upload
_MIB = 1024 * 1024


class Unaborted:
    """Multipart uploads whose abort failed, to abort again once S3 answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, tuple[str, str]] = {}  # upload id -> (bucket, key)

    def __len__(self) -> int:
        return len(self._uploads)

    def abort(self, client: S3Client, bucket: str, key: str, upload_id: str) -> None:
        """Abort the upload, or keep it for `retry` if S3 cannot be reached now."""
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if _gone(exc):
                return
            with self._lock:
                self._uploads[upload_id] = (bucket, key)
            log.warning("could not abort the multipart upload of %r (%s); will retry: %s", key, upload_id, exc)

    def retry(self, client: S3Client) -> None:
        """Abort every upload kept; those S3 still cannot be asked about stay kept."""
        if not self._uploads:
            return
        with self._lock:
            uploads, self._uploads = self._uploads, {}
        for upload_id, (bucket, key) in uploads.items():
            self.abort(client, bucket, key, upload_id)


def _gone(exc: Exception) -> bool:
    """S3's NoSuchUpload: the upload was completed or aborted already."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "NoSuchUpload"


def part_size_for(size: int, chunksize: int) -> int:
    """``chunksize``, or larger (whole MiB) when the object would need more than 10,000 parts."""
    needed = math.ceil(size / MAX_PARTS)
    return max(chunksize, math.ceil(needed / _MIB) * _MIB)


def _same_etag(left: str | None, right: str) -> bool:
    return left is not None and left.strip('"') == right.strip('"')


def check_condition(
    client: S3Client, *, bucket: str, key: str, if_none_match: str | None, if_match: str | None
) -> None:
    """Raise `PreconditionFailed` if the object's current state already breaks the put's condition."""
    if if_none_match is None and if_match is None:
        return
    try:
        with translate_errors(operation="put", key=key):
            etag: str | None = client.head_object(Bucket=bucket, Key=key)["ETag"]
    except NotFound as missing:
        if if_match is not None:
            raise PreconditionFailed(
                "if_match: the object does not exist", provider="aws", operation="put", key=key
            ) from missing
        return
    if if_none_match is not None:
        raise PreconditionFailed("if_none_match='*': the object exists", provider="aws", operation="put", key=key)
    if if_match is not None and not _same_etag(etag, if_match):
        raise PreconditionFailed(f"if_match: the object's etag is {etag}", provider="aws", operation="put", key=key)


def _read_part(stream: IO[bytes], size: int) -> bytes:
    # A file object may return short reads before its end; a part must be full but for the last.
    first = stream.read(size)
    if len(first) == size or not first:
        return first
    pieces = [first]
    got = len(first)
    while got < size and (piece := stream.read(size - got)):
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def _upload_part(
    client: S3Client, bucket: str, key: str, upload_id: str, number: int, holder: list[bytes]
) -> CompletedPartTypeDef:
    # The part comes in a holder this thread empties: the pool's work item keeps its arguments until
    # the worker thread runs again after the result is set, and on a loaded machine the next part
    # was read before that, so three or four parts were alive where two are meant to be.
    data = holder.pop()
    # A file object, not bytes: botocore's connection joins a bytes body to the headers, copying
    # the whole part; BytesIO shares the bytes and is sent in blocks.
    with translate_errors(operation="put", key=key):
        response = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=io.BytesIO(data),
            ChecksumAlgorithm="CRC32",
        )
    part: CompletedPartTypeDef = {"PartNumber": number, "ETag": response["ETag"]}
    if "ChecksumCRC32" in response:
        part["ChecksumCRC32"] = response["ChecksumCRC32"]
    return part


def upload_multipart(
    client: S3Client,
    *,
    bucket: str,
    key: str,
    body: PreparedBody,
    content_type: str,
    metadata: Mapping[str, str],
    part_size: int,
    max_concurrency: int,
    conditions: Mapping[str, str],
    unaborted: Unaborted,
) -> str:
    """Upload ``body`` in parts and complete the upload under ``conditions``; return the ETag.

    ``conditions`` holds ``IfNoneMatch`` or ``IfMatch`` for CompleteMultipartUpload. On any failure
    the upload is aborted, so no parts are left to bill; if the abort fails, ``unaborted`` keeps it.
    """
    with translate_errors(operation="put", key=key):
        upload_id = client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, Metadata=dict(metadata), ChecksumAlgorithm="CRC32"
        )["UploadId"]
    try:
        parts = _upload_parts(client, bucket, key, upload_id, body.stream, part_size, max_concurrency)
        # A missing object under If-Match is S3's 404, which for a conditional put means "not met".
        overrides = {"NoSuchKey": PreconditionFailed} if "IfMatch" in conditions else None
        with translate_errors(operation="put", key=key, write=True, overrides=overrides):
            response = client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **conditions,  # type: ignore[arg-type]
            )
        return response["ETag"]
    except BaseException:
        unaborted.abort(client, bucket, key, upload_id)
        raise


def _upload_parts(
    client: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    stream: IO[bytes],
    part_size: int,
    max_concurrency: int,
) -> list[CompletedPartTypeDef]:
    parts: list[CompletedPartTypeDef] = []
    pending: set[Future[CompletedPartTypeDef]] = set()
    pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="failover-s3-part")
    try:
        number = 0
        while True:
            # Read the next part only when a slot is free: at most max_concurrency parts in memory.
            if len(pending) >= max_concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                parts.extend(future.result() for future in done)
            data = _read_part(stream, part_size)
            if not data:
                break
            number += 1
            pending.add(pool.submit(_upload_part, client, bucket, key, upload_id, number, [data]))
            del data
        parts.extend(future.result() for future in pending)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    parts.sort(key=lambda part: part.get("PartNumber", 0))
    return parts

"""Multipart uploads staged as objects of the same storage, assembled into one stamped write.

CreateMultipartUpload writes a manifest (``failover-multipart/ID/upload``: key, content type,
metadata), each UploadPart an object (``failover-multipart/ID/part-00001``) through the failover
storage, so parts land wherever a write can land while a provider is down. Complete streams the
parts, in order, into one write of the final key with the multipart ETag S3 would give
(``"md5-N"``), then deletes the staging objects.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from failover.compat._errors import Reply, S3Error
from failover.compat._etag import ETAG_KEY, etag_of, multipart_etag, single_etag
from failover.compat._s3._shapes import (
    Buckets,
    Handler,
    Params,
    failover_errors,
    incoming_metadata,
    read_body,
    seconds,
)
from failover.compat._s3.objects import copy_source
from failover.compat._staging import STAGING_PREFIX
from failover.errors import NotFound
from failover.interfaces import ObjectInfo, ObjectReader, ObjectStore

__all__ = ["MULTIPART"]

MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10_000


def _manifest_key(upload_id: str) -> str:
    return f"{STAGING_PREFIX}{upload_id}/upload"


def _part_key(upload_id: str, number: int) -> str:
    return f"{STAGING_PREFIX}{upload_id}/part-{number:05d}"


def _no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "NoSuchUpload",
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or "
        "completed.",
        UploadId=upload_id,
    )


def _manifest(storage: ObjectStore, params: Params) -> dict[str, Any]:
    upload_id = str(params.get("UploadId") or "")
    if not upload_id or "/" in upload_id:
        raise _no_such_upload(upload_id)
    try:
        with failover_errors():
            manifest: dict[str, Any] = json.loads(storage.get_bytes(_manifest_key(upload_id)))
    except S3Error as exc:
        if exc.status == 404:
            raise _no_such_upload(upload_id) from None
        raise
    if manifest.get("key") != params.get("Key"):
        raise _no_such_upload(upload_id)
    return manifest


def create_multipart_upload(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    upload_id = uuid.uuid4().hex
    manifest = {
        "key": params["Key"],
        "content_type": params.get("ContentType"),
        "metadata": incoming_metadata(params),
        "initiated": datetime.now(UTC).isoformat(),
    }
    with failover_errors():
        storage.put(_manifest_key(upload_id), json.dumps(manifest).encode(), content_type="application/json")
    return Reply({"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": upload_id})


def _part_number(params: Params) -> int:
    number = int(params.get("PartNumber", 0))
    if not 1 <= number <= MAX_PARTS:
        raise S3Error("InvalidArgument", 400, f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive")
    return number


def _stage(storage: ObjectStore, params: Params, data: bytes) -> tuple[str, ObjectInfo]:
    _manifest(storage, params)
    etag = single_etag(data)
    with failover_errors():
        info = storage.put(_part_key(params["UploadId"], _part_number(params)), data, metadata={ETAG_KEY: etag})
    return etag, info


def upload_part(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    etag, _ = _stage(storage, params, read_body(params.get("Body")))
    return Reply({"ETag": etag}, headers={"ETag": etag})


def upload_part_copy(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    src_bucket, src_key = copy_source(params)
    source = buckets(src_bucket)
    if source is None:
        raise S3Error("InvalidRequest", 400, f"the copy source bucket {src_bucket!r} is not mapped to failover stores")
    span = params.get("CopySourceRange")
    byte_range = None
    if span:
        first, _, last = str(span).removeprefix("bytes=").partition("-")
        byte_range = (int(first), int(last) + 1)
    with failover_errors():
        data = source.get_bytes(src_key, byte_range=byte_range)
    etag, info = _stage(storage, params, data)
    return Reply({"CopyPartResult": {"ETag": etag, "LastModified": seconds(info.last_modified)}})


def _parts(storage: ObjectStore, upload_id: str) -> dict[int, ObjectInfo]:
    prefix = f"{STAGING_PREFIX}{upload_id}/part-"
    with failover_errors():
        return {int(entry.key[len(prefix) :]): entry for entry in storage.list(prefix) if isinstance(entry, ObjectInfo)}


def _part_etag(storage: ObjectStore, info: ObjectInfo) -> str:
    if ETAG_KEY in info.metadata:
        return info.metadata[ETAG_KEY]
    with failover_errors():
        return etag_of(storage.head(info.key))


class _Concatenated(io.RawIOBase):
    """The parts of an upload read one after the other, as one file object."""

    def __init__(self, storage: ObjectStore, keys: list[str]) -> None:
        self._storage, self._keys = storage, iter(keys)
        self._reader: ObjectReader | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while True:
            if self._reader is None:
                key = next(self._keys, None)
                if key is None:
                    return 0
                self._reader = self._storage.get(key)
            data = self._reader.read(len(view))
            if data:
                view[: len(data)] = data
                return len(data)
            self._reader.close()
            self._reader = None


def complete_multipart_upload(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    upload_id = str(params.get("UploadId") or "")
    manifest = _manifest(storage, params)
    asked = (params.get("MultipartUpload") or {}).get("Parts") or []
    if not asked:
        raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed or did not validate")
    numbers = [int(part["PartNumber"]) for part in asked]
    if numbers != sorted(set(numbers)):
        raise S3Error("InvalidPartOrder", 400, "The list of parts was not in ascending order.")
    staged = _parts(storage, upload_id)
    etags: list[str] = []
    for index, part in enumerate(asked):
        info = staged.get(int(part["PartNumber"]))
        etag = None if info is None else _part_etag(storage, info)
        if info is None or etag is None or etag.strip('"') != str(part.get("ETag", "")).strip('"'):
            raise S3Error("InvalidPart", 400, "One or more of the specified parts could not be found.")
        if index < len(asked) - 1 and info.size < MIN_PART:
            raise S3Error(
                "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size."
            )
        etags.append(etag)
    etag = multipart_etag(etags)
    body = _Concatenated(storage, [_part_key(upload_id, number) for number in numbers])
    with failover_errors():
        storage.put(
            manifest["key"],
            cast("BinaryIO", io.BufferedReader(body, 1 << 20)),
            content_type=manifest.get("content_type") or "binary/octet-stream",
            metadata={**manifest.get("metadata", {}), ETAG_KEY: etag},
        )
    _remove(storage, upload_id)
    return Reply(
        {
            "Location": f"/{params['Bucket']}/{manifest['key']}",
            "Bucket": params["Bucket"],
            "Key": manifest["key"],
            "ETag": etag,
        }
    )


def _remove(storage: ObjectStore, upload_id: str) -> None:
    with failover_errors():
        for entry in list(storage.list(f"{STAGING_PREFIX}{upload_id}/")):
            if isinstance(entry, ObjectInfo):
                storage.delete(entry.key)
        storage.delete(_manifest_key(upload_id))


def abort_multipart_upload(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    _manifest(storage, params)
    _remove(storage, str(params["UploadId"]))
    return Reply({}, status=204)


def list_parts(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    _manifest(storage, params)
    marker = int(params.get("PartNumberMarker") or 0)
    max_parts = int(params.get("MaxParts") or 1000)
    staged = sorted((number, info) for number, info in _parts(storage, params["UploadId"]).items() if number > marker)
    page = staged[:max_parts]
    parsed: dict[str, Any] = {
        "Bucket": params["Bucket"],
        "Key": params["Key"],
        "UploadId": params["UploadId"],
        "PartNumberMarker": marker,
        "MaxParts": max_parts,
        "IsTruncated": len(staged) > max_parts,
        "StorageClass": "STANDARD",
    }
    if page:
        parsed["Parts"] = [
            {"PartNumber": n, "LastModified": info.last_modified, "ETag": _part_etag(storage, info), "Size": info.size}
            for n, info in page
        ]
        parsed["NextPartNumberMarker"] = page[-1][0]
    return Reply(parsed)


def _uploads(storage: ObjectStore) -> Iterator[tuple[str, dict[str, Any]]]:
    with failover_errors():
        entries = [e for e in storage.list(STAGING_PREFIX) if isinstance(e, ObjectInfo) and e.key.endswith("/upload")]
    for entry in entries:
        upload_id = entry.key[len(STAGING_PREFIX) :].split("/")[0]
        try:
            with failover_errors():
                yield upload_id, json.loads(storage.get_bytes(entry.key))
        except (S3Error, NotFound):
            continue  # completed or aborted meanwhile


def list_multipart_uploads(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    prefix = params.get("Prefix") or ""
    uploads = sorted(
        (manifest["key"], manifest["initiated"], upload_id)
        for upload_id, manifest in _uploads(storage)
        if manifest["key"].startswith(prefix)
    )
    parsed: dict[str, Any] = {"Bucket": params["Bucket"], "IsTruncated": False, "MaxUploads": 1000, "Prefix": prefix}
    if uploads:
        parsed["Uploads"] = [
            {
                "UploadId": upload_id,
                "Key": key,
                "Initiated": datetime.fromisoformat(initiated),
                "StorageClass": "STANDARD",
            }
            for key, initiated, upload_id in uploads
        ]
    return Reply(parsed)


MULTIPART: dict[str, Handler] = {
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "UploadPartCopy": upload_part_copy,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "ListParts": list_parts,
    "ListMultipartUploads": list_multipart_uploads,
}

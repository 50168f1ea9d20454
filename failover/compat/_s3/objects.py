"""PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects and CopyObject through a storage.

ETags are S3's (`failover.compat._etag`), kept in each object's metadata, so conditions compare the
same ETag whichever provider answers. GetObject's conditions are checked against the object the
read returned, so no other write can slip in between.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import IO, Any, cast
from urllib.parse import unquote

from botocore.response import StreamingBody

from failover.compat._errors import Reply, S3Error, from_failover
from failover.compat._etag import ETAG_KEY, etag_of, matches, single_etag
from failover.compat._s3._shapes import (
    Buckets,
    Handler,
    Params,
    failover_errors,
    http_date,
    incoming_metadata,
    read_body,
    seconds,
    user_metadata,
)
from failover.errors import FailoverError, NotFound
from failover.interfaces import ObjectInfo, ObjectReader, ObjectStore

__all__ = ["OBJECTS", "check_conditions", "put_bytes"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")


def put_bytes(
    storage: ObjectStore,
    key: str,
    data: bytes,
    *,
    etag: str,
    content_type: str | None,
    metadata: dict[str, str],
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> ObjectInfo:
    """One stamped write of ``data`` with its S3 ETag; S3's conditions checked on the S3 ETag."""
    provider_etag = None
    if if_match is not None:
        with failover_errors():
            current = storage.head(key)
        if not matches(if_match, etag_of(current)):
            raise S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
        provider_etag = current.etag
    if if_none_match is not None and if_none_match != "*":
        raise S3Error("NotImplemented", 501, "If-None-Match on a write takes only '*'")
    try:
        return storage.put(
            key,
            data,
            content_type=content_type or "binary/octet-stream",
            metadata={**metadata, ETAG_KEY: etag},
            if_none_match="*" if if_none_match else None,
            if_match=provider_etag,
        )
    except NotFound:
        raise S3Error("NoSuchKey", 404, "The specified key does not exist.") from None
    except FailoverError as exc:
        raise from_failover(exc) from exc


def put_object(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    data = read_body(params.get("Body"))
    etag = single_etag(data)
    put_bytes(
        storage,
        params["Key"],
        data,
        etag=etag,
        content_type=params.get("ContentType"),
        metadata=incoming_metadata(params),
        if_match=params.get("IfMatch"),
        if_none_match=params.get("IfNoneMatch"),
    )
    return Reply({"ETag": etag}, headers={"ETag": etag})


def check_conditions(info: ObjectInfo, params: Params, prefix: str = "") -> None:
    """S3's order: If-Match (412), If-None-Match (304), If-Unmodified-Since (412), If-Modified-Since (304)."""
    if_match, if_none_match = params.get(prefix + "IfMatch"), params.get(prefix + "IfNoneMatch")
    unmodified_since, modified_since = params.get(prefix + "IfUnmodifiedSince"), params.get(prefix + "IfModifiedSince")
    if if_match is None and if_none_match is None and unmodified_since is None and modified_since is None:
        return
    etag, modified = etag_of(info), seconds(info.last_modified)
    if if_match is not None and not matches(if_match, etag):
        raise S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
    if if_none_match is not None and matches(if_none_match, etag):
        raise _not_modified(prefix)
    if if_match is None and isinstance(unmodified_since, datetime) and modified > seconds(unmodified_since):
        raise S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
    if if_none_match is None and isinstance(modified_since, datetime) and modified <= seconds(modified_since):
        raise _not_modified(prefix)


def _not_modified(prefix: str) -> S3Error:
    if prefix:  # CopyObject answers a failed copy-source condition with 412
        return S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
    return S3Error("NotModified", 304, "Not Modified")


def _object_fields(info: ObjectInfo) -> dict[str, Any]:
    return {
        "AcceptRanges": "bytes",
        "LastModified": seconds(info.last_modified),  # once: the header below reuses it
        "ContentLength": info.size,
        "ETag": etag_of(info),
        "ContentType": info.content_type or "binary/octet-stream",
        "Metadata": user_metadata(info),
    }


def _headers(fields: dict[str, Any]) -> dict[str, str]:
    headers = {
        "ETag": fields["ETag"],
        "Content-Length": str(fields["ContentLength"]),
        "Content-Type": fields["ContentType"],
        "Last-Modified": http_date(fields["LastModified"]),
    }
    if "ContentRange" in fields:
        headers["Content-Range"] = fields["ContentRange"]
    return headers


def head_object(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    try:  # not `failover_errors()`: a context manager costs a microsecond on the hottest calls
        info = storage.head(params["Key"])
    except FailoverError as exc:
        raise from_failover(exc) from exc
    check_conditions(info, params)
    fields = _object_fields(info)
    return Reply(fields, headers=_headers(fields))


def _wanted(header: str | None) -> tuple[int | None, int | None] | None:
    """``(start, end)`` of a Range header (inclusive; ``(None, n)`` for the last n bytes); None: all of it."""
    match = None if header is None else _RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        return None  # S3 ignores a range it cannot parse
    first, last = match.groups()
    if first == "":
        return None, int(last)
    if last != "" and int(last) < int(first):
        return None
    return int(first), None if last == "" else int(last)


def _invalid_range(size: int) -> S3Error:
    return S3Error("InvalidRange", 416, "The requested range is not satisfiable", ActualObjectSize=str(size))


def get_object(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    key, wanted = params["Key"], _wanted(params.get("Range"))
    try:
        if wanted is None:
            reader = storage.get(key)
        elif wanted[0] is None:  # the last n bytes: the size first
            suffix = wanted[1] or 0
            size = storage.head(key).size
            reader = storage.get(key, byte_range=(max(size - suffix, 0), None))
        else:
            start, end = wanted[0], wanted[1]
            reader = storage.get(key, byte_range=(start, None if end is None else end + 1))
    except FailoverError as exc:
        raise from_failover(exc) from exc
    try:
        info = reader.info
        check_conditions(info, params)
        span = None if wanted is None else _span(wanted, info.size)
    except BaseException:
        reader.close()
        raise
    fields = _object_fields(info)
    status, length = 200, info.size
    if span is not None:
        first, last = span
        length = last - first + 1
        fields["ContentLength"] = length
        fields["ContentRange"] = f"bytes {first}-{last}/{info.size}"
        status = 206
    fields["Body"] = StreamingBody(cast("IO[bytes]", _Limited(reader, length)), length)
    for parameter, name in _OVERRIDES:
        override = params.get(parameter)
        if override is not None:
            fields[name] = override
    return Reply(fields, status=status, headers=_headers(fields))


_OVERRIDES = tuple(
    ("Response" + name, name)
    for name in ("ContentType", "ContentDisposition", "ContentEncoding", "ContentLanguage", "CacheControl", "Expires")
)


def _span(wanted: tuple[int | None, int | None], size: int) -> tuple[int, int]:
    start, end = wanted
    if start is None:  # the last n bytes
        if not end or size == 0:
            raise _invalid_range(size)
        return max(size - end, 0), size - 1
    if start >= size:
        raise _invalid_range(size)
    return start, size - 1 if end is None else min(end, size - 1)


class _Limited:
    """A reader cut to ``length`` bytes (a range read from a start reads on to the end), closed once
    read to its end. A plain object, not an `io.RawIOBase`: a `StreamingBody` needs only these."""

    def __init__(self, reader: ObjectReader, length: int) -> None:
        self._reader, self._left = reader, length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._left <= 0:
            self._reader.close()
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._reader.read(want)
        self._left -= len(data)
        if self._left <= 0 or not data:
            self._reader.close()
        return data

    def close(self) -> None:
        self._reader.close()


def delete_object(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    try:
        storage.delete(params["Key"])
    except FailoverError as exc:
        raise from_failover(exc) from exc
    return Reply({}, status=204)


def delete_objects(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    spec = params.get("Delete") or {}
    objects = spec.get("Objects") or []
    if not objects:
        raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed or did not validate")
    if len(objects) > 1000:
        raise S3Error("MalformedXML", 400, "at most 1000 keys a request")
    deleted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for entry in objects:
        key = entry["Key"]
        try:
            with failover_errors():
                storage.delete(key)
        except S3Error as exc:
            errors.append({"Key": key, "Code": exc.code, "Message": exc.message})
        else:
            deleted.append({"Key": key})
    parsed: dict[str, Any] = {}
    if deleted and not spec.get("Quiet"):
        parsed["Deleted"] = deleted
    if errors:
        parsed["Errors"] = errors
    return Reply(parsed)


def copy_source(params: Params) -> tuple[str, str]:
    """``(bucket, key)`` of a CopySource string (botocore has turned a dict into one)."""
    source = params["CopySource"]
    if isinstance(source, dict):
        return str(source["Bucket"]), str(source["Key"])
    text = unquote(str(source).split("?versionId=")[0]).lstrip("/")
    bucket, _, key = text.partition("/")
    if not key:
        raise S3Error("InvalidArgument", 400, "Invalid copy source object key")
    return bucket, key


def copy_object(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    src_bucket, src_key = copy_source(params)
    source = buckets(src_bucket)
    if source is None:
        raise S3Error("InvalidRequest", 400, f"the copy source bucket {src_bucket!r} is not mapped to failover stores")
    with failover_errors():
        reader = source.get(src_key)
    with reader:
        info = reader.info
        check_conditions(info, params, prefix="CopySource")
        data = reader.read()
    replace = params.get("MetadataDirective") == "REPLACE"
    if not replace and source is storage and src_key == params["Key"]:
        raise S3Error(
            "InvalidRequest",
            400,
            "This copy request is illegal because it is trying to copy an object to itself without changing the "
            "object's metadata, storage class, website redirect location or encryption attributes.",
        )
    metadata = incoming_metadata(params) if replace else user_metadata(info)
    content_type = params.get("ContentType") if replace else info.content_type
    etag = single_etag(data)
    written = put_bytes(storage, params["Key"], data, etag=etag, content_type=content_type, metadata=metadata)
    result = {"ETag": etag, "LastModified": seconds(written.last_modified)}
    return Reply({"CopyObjectResult": result})


OBJECTS: dict[str, Handler] = {
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
}

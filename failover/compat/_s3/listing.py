"""ListObjectsV2 and ListObjects: one storage listing, sorted as S3 sorts, cut into S3's pages.

A provider lists in its own order and pages with its own tokens, so each page is made here from a
full listing under the prefix: the continuation token is the last key of the page, base64-encoded.
Keys under the staging prefix of multipart uploads are never listed.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

from failover.compat._errors import Reply, S3Error
from failover.compat._etag import etag_of
from failover.compat._s3._shapes import Buckets, Handler, Params, failover_errors
from failover.compat._staging import STAGING_PREFIX
from failover.interfaces import CommonPrefix, ListEntry, ObjectInfo, ObjectStore

__all__ = ["LISTING"]

OWNER = {"DisplayName": "failover", "ID": "failover"}
_MD5_ETAG = re.compile(r'"?[0-9a-f]{32}(-\d+)?"?\Z')


def _name(entry: ListEntry) -> str:
    return entry.prefix if isinstance(entry, CommonPrefix) else entry.key


def _page(storage: ObjectStore, params: Params, after: str) -> tuple[list[ListEntry], bool]:
    max_keys = int(params.get("MaxKeys", 1000))
    if max_keys < 0:
        raise S3Error("InvalidArgument", 400, "MaxKeys must be non-negative")
    prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or None
    with failover_errors(not_found="NoSuchBucket"):
        entries = sorted(
            (e for e in storage.list(prefix, delimiter=delimiter) if not _name(e).startswith(STAGING_PREFIX)),
            key=_name,
        )
    later = [entry for entry in entries if _name(entry) > after] if after else entries
    return later[:max_keys], max_keys > 0 and len(later) > max_keys


def _content(storage: ObjectStore, info: ObjectInfo, params: Params, owner: bool, encode: bool) -> dict[str, Any]:
    etag = etag_of(info)
    if not _MD5_ETAG.match(etag):  # a listing without the stored ETag, on a provider of other ETags
        with failover_errors():
            etag = etag_of(storage.head(info.key))
    entry: dict[str, Any] = {
        "Key": quote(info.key, safe="/~") if encode else info.key,
        "LastModified": info.last_modified,
        "ETag": etag,
        "Size": info.size,
        "StorageClass": "STANDARD",
    }
    if owner:
        entry["Owner"] = dict(OWNER)
    return entry


def _fill(parsed: dict[str, Any], storage: ObjectStore, page: list[ListEntry], params: Params, owner: bool) -> None:
    encode = params.get("EncodingType") == "url"
    contents = [_content(storage, e, params, owner, encode) for e in page if isinstance(e, ObjectInfo)]
    prefixes = [
        {"Prefix": quote(e.prefix, safe="/~") if encode else e.prefix} for e in page if isinstance(e, CommonPrefix)
    ]
    if contents:
        parsed["Contents"] = contents
    if prefixes:
        parsed["CommonPrefixes"] = prefixes
    for name in ("Prefix", "Delimiter", "EncodingType"):
        if params.get(name) is not None or name == "Prefix":
            parsed[name] = params.get(name) or ""
    parsed["MaxKeys"] = int(params.get("MaxKeys", 1000))


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise S3Error("InvalidArgument", 400, "The continuation token provided is incorrect") from None


def list_objects_v2(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    token = params.get("ContinuationToken")
    after = _untoken(token) if token else params.get("StartAfter") or ""
    page, truncated = _page(storage, params, after)
    parsed: dict[str, Any] = {"IsTruncated": truncated, "Name": params["Bucket"], "KeyCount": len(page)}
    _fill(parsed, storage, page, params, bool(params.get("FetchOwner")))
    if token:
        parsed["ContinuationToken"] = token
    if params.get("StartAfter"):
        parsed["StartAfter"] = params["StartAfter"]
    if truncated and page:
        parsed["NextContinuationToken"] = _token(_name(page[-1]))
    return Reply(parsed)


def list_objects(storage: ObjectStore, params: Params, buckets: Buckets) -> Reply:
    marker = params.get("Marker") or ""
    page, truncated = _page(storage, params, marker)
    parsed: dict[str, Any] = {"IsTruncated": truncated, "Name": params["Bucket"]}
    if marker:
        parsed["Marker"] = marker
    _fill(parsed, storage, page, params, True)
    if truncated and page and params.get("Delimiter"):
        last = _name(page[-1])
        parsed["NextMarker"] = quote(last, safe="/~") if params.get("EncodingType") == "url" else last
    return Reply(parsed)


LISTING: dict[str, Handler] = {"ListObjectsV2": list_objects_v2, "ListObjects": list_objects}

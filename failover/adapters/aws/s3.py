"""`S3Store`: one S3 bucket as an `ObjectStore`.

Small objects go up in one PutObject, large ones in a multipart upload (`_multipart`); both carry
``If-None-Match: *`` or ``If-Match`` natively. Bodies stream down in 1 MiB chunks. Server-side copy
uses CopyObject, which S3 limits to sources of 5 GiB (a larger source raises `InvalidRequest`;
multipart copy is not implemented).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from failover.adapters._buckets import BucketCheck
from failover.adapters._common import prepare_put, split_metadata
from failover.adapters._timing import AttemptTime
from failover.adapters.aws._client import ClientCache
from failover.adapters.aws._errors import error_code, translate, translate_errors
from failover.adapters.aws._multipart import Unaborted, check_condition, part_size_for, upload_multipart
from failover.config import S3Config
from failover.errors import InvalidRequest, NotFound, PreconditionFailed
from failover.interfaces import Capabilities, CommonPrefix, Data, ListEntry, ObjectInfo
from failover.keys import validate_byte_range, validate_key, validate_listing, validate_timeout
from failover.reader import ObjectReader

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

__all__ = ["S3Store"]

PROVIDER = "aws"
# Every provider's own default differs (S3 says binary/octet-stream); one default keeps copies alike.
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CAPABILITIES = Capabilities(
    max_object_size=5 * 1024**4,
    conditional_create=True,
    conditional_update=True,
    conditional_large_writes=True,
    server_side_copy=True,
    conditional_delete=True,  # DeleteObject If-Match: general purpose buckets since 2025-09
)
_TOTAL_SIZE = re.compile(r"/(\d+)\s*$")
# Bytes a body read waits for: small, so that a caller checking its deadline between chunks (a store
# trickling 100 KB/s answers every socket read in time) is never held long past it.
_READ_STEP = 64 * 1024


class S3Store:
    """One S3 bucket. ``timeout=`` on each call is that attempt's read timeout in seconds."""

    def __init__(self, config: S3Config) -> None:
        self._config = config
        self._bucket = config.bucket
        self._name = config.name or f"aws:s3:{config.bucket}"
        # Multipart uploads keep max_concurrency connections busy; leave room for other calls.
        self._clients = ClientCache(config, "s3", user="S3Store", max_pool_connections=10 + config.max_concurrency)
        self._buckets = BucketCheck(config.bucket, self._bucket_exists)
        # Failed multipart uploads whose abort failed too: aborted after the next put that succeeds.
        self._unaborted = Unaborted()
        if config.ensure:
            self._ensure_bucket()

    @property
    def read_timeout(self) -> float:
        """Seconds one request waits for an answer when the call names no timeout (the configured
        ``read_timeout``): the failover engine's default attempt timeout for this endpoint."""
        return self._config.read_timeout

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def capabilities(self) -> Capabilities:
        return _CAPABILITIES

    @property
    def config(self) -> S3Config:
        return self._config

    @property
    def clients(self) -> ClientCache:
        """The boto3 clients built so far, one per attempt timeout."""
        return self._clients

    def _client(self, timeout: float | None) -> S3Client:
        return cast("S3Client", self._clients.get(timeout))

    def _ensure_bucket(self) -> None:
        client = self._client(None)
        try:
            with translate_errors(operation="ensure"):
                client.head_bucket(Bucket=self._bucket)
            return
        except NotFound:
            pass
        options: dict[str, Any] = {}
        if self._clients.region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": self._clients.region}
        with translate_errors(operation="ensure", write=True):
            try:
                client.create_bucket(Bucket=self._bucket, **options)
            except Exception as exc:
                # Another process created it first: the bucket exists, which is all ensure wants.
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise

    def _info(self, key: str, response: Mapping[str, Any], size: int | None = None) -> ObjectInfo:
        user, sha256, version = split_metadata(response.get("Metadata"))
        return ObjectInfo(
            key=key,
            size=int(response["ContentLength"]) if size is None else size,
            provider=PROVIDER,
            content_type=response.get("ContentType"),
            metadata=user,
            last_modified=response.get("LastModified"),
            etag=response.get("ETag"),
            sha256=sha256,
            version=version,
        )

    def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: Literal["*"] | None = None,
        if_match: str | None = None,
        timeout: float | None = None,
    ) -> ObjectInfo:
        validate_timeout(timeout)
        prepared = prepare_put(
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
            capabilities=_CAPABILITIES,
            provider="S3",
        )
        content_type = prepared.content_type or DEFAULT_CONTENT_TYPE
        conditions: dict[str, str] = {}
        if if_none_match is not None:
            conditions["IfNoneMatch"] = if_none_match
        if if_match is not None:
            conditions["IfMatch"] = if_match
        try:
            client = self._client(timeout)
            if prepared.body.size > self._config.multipart_threshold:
                check_condition(client, bucket=self._bucket, key=key, if_none_match=if_none_match, if_match=if_match)
                etag = upload_multipart(
                    client,
                    bucket=self._bucket,
                    key=key,
                    body=prepared.body,
                    content_type=content_type,
                    metadata=prepared.metadata,
                    part_size=part_size_for(prepared.body.size, self._config.multipart_chunksize),
                    max_concurrency=self._config.max_concurrency,
                    conditions=conditions,
                    unaborted=self._unaborted,
                )
            else:
                # If-Match on a missing key is S3's 404 NoSuchKey: for this put, a condition not met.
                overrides = {"NoSuchKey": PreconditionFailed} if if_match is not None else None
                with translate_errors(operation="put", key=key, write=True, overrides=overrides):
                    etag = client.put_object(
                        Bucket=self._bucket,
                        Key=key,
                        Body=prepared.body.stream,
                        ContentLength=prepared.body.size,
                        ContentType=content_type,
                        Metadata=prepared.metadata,
                        # The sha256 is known: given, botocore does not read the body again to
                        # compute a checksum of its own, and S3 checks what it received against it.
                        ChecksumSHA256=base64.b64encode(bytes.fromhex(prepared.body.sha256)).decode(),
                        **conditions,  # type: ignore[arg-type]
                    )["ETag"]
        finally:
            prepared.body.close()
        self._unaborted.retry(client)  # S3 answers again: abort what an outage left open
        user, sha256, version = split_metadata(prepared.metadata)
        return ObjectInfo(
            key=key,
            size=prepared.body.size,
            provider=PROVIDER,
            content_type=content_type,
            metadata=user,
            etag=etag,
            sha256=sha256,
            version=version,
        )

    def get(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> ObjectReader:
        validate_timeout(timeout)
        validate_key(key)
        span = validate_byte_range(byte_range)
        options: dict[str, Any] = {}
        if span is not None:
            start, stop = span
            options["Range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        try:
            with translate_errors(operation="get", key=key):
                response = self._client(timeout).get_object(Bucket=self._bucket, Key=key, **options)
        except InvalidRequest as error:
            # 416: the range starts at or after the end of an object that exists. Python slicing says b"".
            if span is None or error_code(error.__cause__) != "InvalidRange":
                raise
            return ObjectReader(self.head(key, timeout=timeout), iter(()))
        size = None
        if span is not None and (match := _TOTAL_SIZE.search(response.get("ContentRange", ""))):
            size = int(match.group(1))
        body = response["Body"]
        return ObjectReader(
            self._info(key, cast("Mapping[str, Any]", response), size),
            body.iter_chunks(_READ_STEP),
            close=body.close,
            translate=lambda exc: translate(exc, operation="get", key=key),
        )

    def get_bytes(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        validate_timeout(timeout)
        with self.get(key, byte_range=byte_range, timeout=timeout) as reader:
            return reader.read()

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(key)
        attempt = AttemptTime(self._config.read_timeout if timeout is None else timeout)
        try:
            with translate_errors(operation="head", key=key):
                response = self._client(timeout).head_object(Bucket=self._bucket, Key=key)
        except NotFound as error:
            # A HEAD's 404 has no body: it may be the bucket that is missing (then S3 is at fault).
            raise self._buckets.check(error, attempt.left()) from error.__cause__
        return self._info(key, cast("Mapping[str, Any]", response))

    def _bucket_exists(self, timeout: float | None) -> bool:
        try:
            with translate_errors(operation="head_bucket"):
                self._client(timeout).head_bucket(Bucket=self._bucket)
        except NotFound:
            return False
        return True

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        validate_timeout(timeout)
        validate_key(key)
        # S3 answers 204 for a key that does not exist: deleting it succeeds, as the interface wants.
        if if_match is None:
            with translate_errors(operation="delete", key=key, write=True):
                self._client(timeout).delete_object(Bucket=self._bucket, Key=key)
            return
        try:
            with translate_errors(operation="delete", key=key, write=True):
                self._client(timeout).delete_object(Bucket=self._bucket, Key=key, IfMatch=if_match)
        except NotFound as exc:
            # With If-Match, S3 answers a missing key with 404 NoSuchKey: already gone, so done.
            if error_code(exc.__cause__) != "NoSuchKey":
                raise

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        validate_timeout(timeout)
        prefix, delimiter = validate_listing(prefix, delimiter)
        options: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if delimiter is not None:
            options["Delimiter"] = delimiter
        return self._list(options, prefix, timeout)

    def _list(self, options: dict[str, Any], prefix: str, timeout: float | None) -> Iterator[ListEntry]:
        pages = iter(self._client(timeout).get_paginator("list_objects_v2").paginate(**options))
        while True:
            # Translate around the fetch of each page only: an error thrown into this generator by
            # its consumer must pass through untouched.
            with translate_errors(operation="list", key=prefix or None):
                page = next(pages, None)
            if page is None:
                return
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    key=item["Key"],
                    size=item["Size"],
                    provider=PROVIDER,
                    last_modified=item.get("LastModified"),
                    etag=item.get("ETag"),
                )
            for common in page.get("CommonPrefixes", []):
                yield CommonPrefix(common["Prefix"])

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(src)
        validate_key(dst)
        if src == dst:
            # S3 refuses to copy an object onto itself unchanged; the result would be the object.
            return self.head(src, timeout=timeout)
        client = self._client(timeout)
        # A NoSuchKey here is about the source; the metadata (sha256, version) is copied with it.
        with translate_errors(operation="copy", key=src, write=True):
            client.copy_object(
                Bucket=self._bucket,
                Key=dst,
                CopySource={"Bucket": self._bucket, "Key": src},
                MetadataDirective="COPY",
            )
        with translate_errors(operation="copy", key=dst):
            response = client.head_object(Bucket=self._bucket, Key=dst)
        return self._info(dst, cast("Mapping[str, Any]", response))

    def close(self) -> None:
        if len(self._unaborted):
            self._unaborted.retry(self._client(None))
        self._clients.close()

    def __repr__(self) -> str:
        return f"S3Store(name={self._name!r}, bucket={self._bucket!r}, endpoint={self._config.endpoint_url!r})"

"""`AzureBlobStore`: one Azure Blob Storage container as an `ObjectStore`.

Uploads stream through the SDK's staged blocks (Put Block + Put Block List) once an object is larger
than ``config.block_size``, at most ``max_concurrency`` blocks in memory; downloads stream in chunks
of at most 1 MiB, each a ranged GET pinned to the first one's ETag. Conditions: ``if_none_match="*"``
is Azure's ``If-None-Match: *``, ``if_match`` its ``If-Match`` with the blob's ETag; for staged
uploads the service checks them when the block list is committed, so large writes are conditional too.

A staged upload that fails before its block list is committed leaves uncommitted blocks, which the
service deletes after 7 days (Put Block List documentation); the blob API has no call that drops
them for a blob that was never committed, so the adapter does not try (not measured whether they
count toward billed capacity meanwhile).

Known SDK behaviour that the adapter cannot switch off: when a download's body breaks after the
response headers arrived, azure-storage-blob re-requests that chunk up to twice, a second apart,
before it gives up; the error that reaches the caller is then a `ProviderUnavailable` (reset).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from failover.adapters._common import prepare_put, split_metadata
from failover.adapters._sdk import require
from failover.adapters._timing import AttemptTime
from failover.adapters.azure._client import call_timeouts, client_options, resolve_connection
from failover.adapters.azure._errors import PROVIDER, error_code, translate_errors, translate_exception
from failover.config import AzureBlobConfig
from failover.errors import NotFound, OutcomeUnknown, PreconditionFailed, ProviderUnavailable, Reason
from failover.interfaces import Capabilities, CommonPrefix, Data, ListEntry, ObjectInfo
from failover.keys import validate_byte_range, validate_key, validate_listing, validate_timeout
from failover.reader import ObjectReader

if TYPE_CHECKING:
    from azure.storage.blob import BlobProperties, BlobServiceClient, ContainerClient

__all__ = ["AzureBlobStore"]

# Azure's limits for block blobs: 50,000 committed blocks, each at most 4,000 MiB.
_MAX_BLOCKS = 50_000
_MAX_BLOCK_BLOB = _MAX_BLOCKS * 4000 * 1024 * 1024
# Chunks of a download. The SDK collects each chunk with list() over a generator whose __len__ is
# the chunk's byte count, so CPython preallocates 8 bytes of list per byte of chunk: a 4 MiB chunk
# peaks at 36 MiB, a 1 MiB chunk at about 10 MiB (measured with tracemalloc).
_GET_CHUNK = 1024 * 1024
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Pauses between polls of a pending server-side copy.
_COPY_POLL_FIRST, _COPY_POLL_MAX = 0.05, 1.0


class AzureBlobStore:
    """An `ObjectStore` over one Azure Blob Storage container (or Azurite's)."""

    def __init__(self, config: AzureBlobConfig) -> None:
        self._sdk = require("azure.storage.blob", extra="azure", user="AzureBlobStore")
        self._core = require("azure.core", extra="azure", user="AzureBlobStore")
        self._config = config
        self._connection = resolve_connection(config, user="AzureBlobStore")
        chunk = min(config.block_size, _GET_CHUNK)
        options: dict[str, Any] = {
            **client_options(config),
            # Anything larger than one block goes as staged blocks, never as one request in memory.
            "max_single_put_size": config.block_size,
            "max_block_size": config.block_size,
            "max_single_get_size": chunk,
            "max_chunk_get_size": chunk,
        }
        service: BlobServiceClient = self._connection.client(self._sdk.BlobServiceClient, **options)
        self._service = service
        self._container: ContainerClient = service.get_container_client(config.container)
        self._name = config.name or f"azure:blob:{config.container}"
        # The SDK uploads in blocks of block_size, so the largest object it can write is bounded by
        # the block count as much as by the service's own limit.
        self._capabilities = Capabilities(
            max_object_size=min(_MAX_BLOCKS * config.block_size, _MAX_BLOCK_BLOB), conditional_delete=True
        )
        if config.ensure:
            self._ensure_container()

    def __repr__(self) -> str:
        return f"AzureBlobStore(name={self._name!r})"

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
        return self._capabilities

    def _ensure_container(self) -> None:
        with translate_errors("ensure"):
            try:
                self._container.create_container(**call_timeouts(self._config, None))
            except Exception as exc:
                if error_code(exc) != "ContainerAlreadyExists":
                    raise

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
            capabilities=self._capabilities,
            provider="Azure Blob",
        )
        try:
            options: dict[str, Any] = {
                **call_timeouts(self._config, timeout),
                # overwrite=False is If-None-Match: *; the SDK reports it as 409 BlobAlreadyExists.
                "overwrite": if_none_match is None,
                "metadata": prepared.metadata,
                "max_concurrency": self._config.max_concurrency,
            }
            if if_match is not None:
                options["etag"] = if_match
                options["match_condition"] = self._core.MatchConditions.IfNotModified
            if prepared.content_type is not None:
                options["content_settings"] = self._sdk.ContentSettings(content_type=prepared.content_type)
            blob = self._container.get_blob_client(key)
            with translate_errors("put", key=key, write=True):
                result = blob.upload_blob(prepared.body.stream, length=prepared.body.size, **options)
        finally:
            prepared.body.close()
        user, sha256, version = split_metadata(prepared.metadata)
        return ObjectInfo(
            key=key,
            size=prepared.body.size,
            provider=PROVIDER,
            content_type=prepared.content_type or _DEFAULT_CONTENT_TYPE,
            metadata=user,
            last_modified=result.get("last_modified"),
            etag=result.get("etag"),
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
        byte_range = validate_byte_range(byte_range)
        options = call_timeouts(self._config, timeout)
        offset: int | None = None
        length: int | None = None
        if byte_range is not None and byte_range != (0, None):
            offset = byte_range[0]
            length = None if byte_range[1] is None else byte_range[1] - byte_range[0]
        blob = self._container.get_blob_client(key)
        with translate_errors("get", key=key):
            try:
                downloader = blob.download_blob(offset=offset, length=length, max_concurrency=1, **options)
            except Exception as exc:
                # 416: the range starts at or after the end of an existing blob; there is nothing
                # to return, and the blob's properties still answer for it.
                if error_code(exc) != "InvalidRange":
                    raise
                return ObjectReader(self.head(key, timeout=timeout), iter(()))
            properties = downloader.properties
            info = self._info(key, properties, size=_total_size(properties))
            chunks = downloader.chunks()

        def translate(exc: BaseException) -> BaseException:
            return translate_exception(exc, "get", key=key)

        return ObjectReader(info, chunks, translate=translate)

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
        options = call_timeouts(self._config, timeout)
        with translate_errors("head", key=key):
            properties = self._container.get_blob_client(key).get_blob_properties(**options)
        return self._info(key, properties)

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        validate_timeout(timeout)
        validate_key(key)
        attempt = AttemptTime(self._config.read_timeout if timeout is None else timeout)
        options = call_timeouts(self._config, timeout)
        if if_match is not None:
            options["etag"] = if_match
            options["match_condition"] = self._core.MatchConditions.IfNotModified
        try:
            with translate_errors("delete", key=key, write=True):
                try:
                    self._container.get_blob_client(key).delete_blob(delete_snapshots="include", **options)
                except Exception as exc:
                    # Deleting a missing blob succeeds; a missing container still is an error.
                    if error_code(exc) != "BlobNotFound":
                        raise
        except PreconditionFailed:
            # Azurite answers If-Match on a missing blob with 412 ConditionNotMet: gone is done.
            try:
                self.head(key, timeout=attempt.left())
            except NotFound:
                return
            raise

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        validate_timeout(timeout)
        prefix, delimiter = validate_listing(prefix, delimiter)
        return self._list(prefix, delimiter, call_timeouts(self._config, timeout))

    def _list(self, prefix: str, delimiter: str | None, options: dict[str, Any]) -> Iterator[ListEntry]:
        with translate_errors("list", key=prefix or None):
            # The SDK pages through continuation tokens; include=metadata lets a listing carry the
            # sha256 and version stamp, so anti-entropy needs no HEAD per key.
            if delimiter is None:
                items: Iterator[Any] = iter(
                    self._container.list_blobs(name_starts_with=prefix or None, include=["metadata"], **options)
                )
            else:
                items = iter(
                    self._container.walk_blobs(
                        name_starts_with=prefix or None, include=["metadata"], delimiter=delimiter, **options
                    )
                )
            for item in items:
                if isinstance(item, self._sdk.BlobPrefix):
                    yield CommonPrefix(item.name)
                else:
                    yield self._info(item.name, item)

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(src)
        validate_key(dst)
        options = call_timeouts(self._config, timeout)
        deadline = time.monotonic() + options["read_timeout"]
        source = self._container.get_blob_client(src)
        target = self._container.get_blob_client(dst)
        # Server-side: the service reads the source itself; metadata and content type go with it.
        with translate_errors("copy", key=src, write=True):
            started = target.start_copy_from_url(source.url, **options)
        status = started.get("copy_status")
        pause = _COPY_POLL_FIRST
        properties: BlobProperties | None = None
        while status == "pending":
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutcomeUnknown(
                    f"the copy to {dst!r} was still pending when the time ran out",
                    provider=PROVIDER,
                    operation="copy",
                    key=dst,
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, _COPY_POLL_MAX)
            with translate_errors("copy", key=dst):
                properties = target.get_blob_properties(**options)
            status = properties.copy.status
        if status != "success":
            detail = properties.copy.status_description if properties is not None else None
            raise ProviderUnavailable(
                f"the copy to {dst!r} ended {status!r}: {detail}",
                reason=Reason.SERVER_ERROR,
                provider=PROVIDER,
                operation="copy",
                key=dst,
            )
        if properties is None:
            with translate_errors("copy", key=dst):
                properties = target.get_blob_properties(**options)
        return self._info(dst, properties)

    def close(self) -> None:
        self._service.close()
        self._connection.close()

    def _info(self, key: str, properties: Any, size: int | None = None) -> ObjectInfo:
        user, sha256, version = split_metadata(properties.metadata)
        settings = properties.content_settings
        return ObjectInfo(
            key=key,
            size=properties.size if size is None else size,
            provider=PROVIDER,
            content_type=settings.content_type if settings is not None else None,
            metadata=user,
            last_modified=properties.last_modified,
            etag=_quoted(properties.etag),
            sha256=sha256,
            version=version,
        )


def _total_size(properties: BlobProperties) -> int:
    """The whole blob's size: a ranged download reports the range's size, and the total after '/'."""
    content_range = getattr(properties, "content_range", None)
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(properties.size)


def _quoted(etag: str | None) -> str | None:
    """ETags as the service sends them in headers, quoted: listings return them bare."""
    if etag and not etag.startswith(('"', "W/")):
        return f'"{etag}"'
    return etag

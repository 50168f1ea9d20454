"""`GcsStore`: one Google Cloud Storage bucket as an `ObjectStore`.

Calls go through google-cloud-storage's JSON API client with its retries off (``retry=None`` on every
call, uploads and downloads included) and ``timeout=(connect, read)`` per call, so the failover
engine, not the SDK, decides what happens after a failure. The object's GCS *generation* is its
etag: ``if_match`` becomes ``ifGenerationMatch``, ``if_none_match="*"`` becomes ``ifGenerationMatch=0``.

Uploads stream from the prepared body: up to 8 MiB in one multipart request, larger ones through a
resumable upload in ``chunk_size`` pieces. A resumable upload that fails part-way is cancelled
(`_resumable.Sessions`: DELETE on the session URL, again after the next put if the network was
down); no object is created until the last chunk is accepted. Downloads are ranged requests of up to
`READ_CHUNK` bytes, sized to take about a quarter of a second at the throughput the store last
showed (256 KiB before it showed any), so that a caller checking its deadline between chunks is not
held long past it by a store that trickles (each socket read in time, a whole 1 MiB range taking 10
s). Each is pinned to the generation `get` found, so a reader never mixes two versions of an object.
A range of a generation that was replaced (or deleted) since `get` found it is a 404: that is "the
object changed while it was read", retryable like Azure's 412 mid-read, never NotFound, because the
key did exist and may still.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from collections.abc import Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from failover._logging import install
from failover.adapters._buckets import BucketCheck
from failover.adapters._common import prepare_put, split_metadata
from failover.adapters._sdk import require
from failover.adapters._timing import AttemptTime
from failover.adapters.gcp._errors import PROVIDER, translate, translate_errors
from failover.adapters.gcp._resumable import Sessions
from failover.errors import (
    ConfigError,
    Disposition,
    NotFound,
    PreconditionFailed,
    ProviderUnavailable,
    Reason,
)
from failover.interfaces import Capabilities, CommonPrefix, Data, ListEntry, ObjectInfo
from failover.keys import validate_byte_range, validate_key, validate_listing, validate_timeout
from failover.reader import ObjectReader

if TYPE_CHECKING:
    from failover.config import GcsConfig

__all__ = ["MAX_OBJECT_SIZE", "READ_CHUNK", "GcsStore"]

MAX_OBJECT_SIZE = 5 * 1024**4  # GCS's limit: 5 TiB an object
READ_CHUNK = 1024 * 1024  # bytes a ranged download asks for (and a reader holds at once)
_UPLOAD_ALIGN = 256 * 1024  # resumable-upload chunks are multiples of 256 KiB
_FIRST_RANGE = 256 * 1024  # bytes of a ranged download before the store's throughput is known
_MIN_RANGE = 64 * 1024
_RANGE_SECONDS = 0.25  # what one ranged download should take at the measured throughput


def _sdk(name: str) -> Any:
    return require(name, extra="gcp", user="GcsStore")


def _make_client(config: GcsConfig) -> Any:
    storage = _sdk("google.cloud.storage")
    credentials: Any = None
    if config.anonymous:
        credentials = _sdk("google.auth.credentials").AnonymousCredentials()
    elif config.credentials_file is not None:
        service_account = _sdk("google.oauth2.service_account")
        try:
            credentials = service_account.Credentials.from_service_account_file(str(config.credentials_file))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read GCS credentials from {str(config.credentials_file)!r}: {exc}", field="credentials_file"
            ) from None
    options = {"api_endpoint": config.endpoint_url} if config.endpoint_url else None
    auth_errors = _sdk("google.auth.exceptions")
    try:
        client = storage.Client(project=config.project, credentials=credentials, client_options=options)
    except auth_errors.DefaultCredentialsError as exc:
        raise ConfigError(
            f"no Google credentials found for GcsStore (set credentials_file or anonymous): {exc}",
            field="credentials_file",
        ) from None
    # The client fetches bucket metadata for tracing in background threads, with the SDK's default
    # retries and timeouts; a dead endpoint would keep them busy long after our call failed.
    if getattr(client, "_bucket_metadata_cache", None) is not None:
        client._bucket_metadata_cache = None
    install()  # the google and urllib3 loggers exist now: their records are redacted (bearer tokens)
    return client


class GcsStore:
    """One GCS bucket. ``GcsStore(GcsConfig(bucket="orders"))``; close it when done."""

    def __init__(self, config: GcsConfig) -> None:
        self._config = config
        self._name = config.name or f"{PROVIDER}:gcs:{config.bucket}"
        self._client = _make_client(config)
        self._bucket = self._client.bucket(config.bucket)
        self._buckets = BucketCheck(config.bucket, self._bucket_exists)
        self._throughput: float | None = None  # bytes per second of the last ranged downloads (EWMA)
        self._sessions = Sessions()  # resumable uploads whose cancel failed, cancelled after a later put
        self._chunk_size = max(_UPLOAD_ALIGN, config.chunk_size // _UPLOAD_ALIGN * _UPLOAD_ALIGN)
        self._capabilities = Capabilities(max_object_size=MAX_OBJECT_SIZE, conditional_delete=True)
        if config.ensure:
            try:
                self._ensure_bucket()
            except BaseException:
                self.close()
                raise

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

    def __repr__(self) -> str:
        return f"<GcsStore {self._name}>"

    def _timeout(self, timeout: float | None) -> tuple[float, float]:
        """``(connect, read)`` for one request of an attempt of ``timeout`` seconds (None: the config's);
        the connect timeout too is cut to the attempt's, so that a hung connect does not outlive it."""
        read = self._config.read_timeout if timeout is None else timeout
        return (min(self._config.connect_timeout, read), read)

    def _ensure_bucket(self) -> None:
        exceptions = _sdk("google.api_core.exceptions")
        timeout = self._timeout(None)
        with translate_errors(operation="ensure", key=self._config.bucket, write=True):
            try:
                self._client.get_bucket(self._config.bucket, timeout=timeout, retry=None)
            except exceptions.NotFound:
                with contextlib.suppress(exceptions.Conflict):  # created by someone else meanwhile
                    self._client.create_bucket(self._config.bucket, timeout=timeout, retry=None)

    def _info(self, blob: Any) -> ObjectInfo:
        user, sha256, version = split_metadata(blob.metadata)
        generation = blob.generation
        return ObjectInfo(
            key=blob.name,
            size=int(blob.size or 0),
            provider=PROVIDER,
            content_type=blob.content_type,
            metadata=user,
            last_modified=blob.updated,
            etag=None if generation is None else str(generation),
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
            capabilities=self._capabilities,
            provider=PROVIDER,
        )
        try:
            generation: int | None = None
            if if_none_match == "*":
                generation = 0  # "no live generation": create only
            elif if_match is not None:
                if not if_match.isdigit():
                    # Every GCS etag is a generation number; any other token names no version of this object.
                    raise PreconditionFailed(
                        f"if_match {if_match!r} is not a GCS generation", provider=PROVIDER, operation="put", key=key
                    )
                generation = int(if_match)
            blob = self._bucket.blob(key, chunk_size=self._chunk_size)
            blob.metadata = prepared.metadata
            opened = self._sessions.watch(blob)
            try:
                with translate_errors(operation="put", key=key, write=True):
                    blob.upload_from_file(
                        prepared.body.stream,
                        size=prepared.body.size,
                        content_type=prepared.content_type,
                        if_generation_match=generation,
                        timeout=self._timeout(timeout),
                        retry=None,
                    )
            except BaseException:
                self._sessions.cancel_unfinished(opened, self._config.connect_timeout)
                raise
        finally:
            prepared.body.close()
        if len(self._sessions):
            self._sessions.retry(self._config.connect_timeout)  # GCS answers again: cancel what an outage left
        return self._info(blob)

    def _reload(self, key: str, operation: str, timeout: float | None) -> Any:
        blob = self._bucket.blob(key)
        attempt = AttemptTime(self._config.read_timeout if timeout is None else timeout)
        try:
            with translate_errors(operation=operation, key=key):
                blob.reload(timeout=self._timeout(timeout), retry=None)
        except NotFound as error:
            # The object's 404 and its bucket's may read alike: a missing bucket is GCS's fault.
            raise self._buckets.check(error, attempt.left()) from error.__cause__
        return blob

    def _bucket_exists(self, timeout: float | None) -> bool:
        try:
            with translate_errors(operation="head_bucket"):
                self._bucket.reload(timeout=self._timeout(timeout), retry=None)
        except NotFound:
            return False
        return True

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(key)
        return self._info(self._reload(key, "head", timeout))

    def get(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> ObjectReader:
        validate_timeout(timeout)
        validate_key(key)
        checked = validate_byte_range(byte_range)
        # The metadata and the first range come out of one attempt's time, as S3 and Azure open their
        # body inside `get`; later ranges, read as the caller asks for them, each get the whole
        # timeout (it bounds a socket read, not the transfer).
        attempt = AttemptTime(self._config.read_timeout if timeout is None else timeout)
        blob = self._reload(key, "get", attempt.left())
        info = self._info(blob)
        start, stop = (0, None) if checked is None else checked
        stop = info.size if stop is None else min(stop, info.size)
        chunks = self._chunks(key, blob.generation, start, stop, timeout, first=attempt)
        try:
            with translate_errors(operation="get", key=key):
                head = next(chunks, None)
        except BaseException:
            chunks.close()
            raise
        body = chunks if head is None else itertools.chain((head,), chunks)
        return ObjectReader(
            info, body, close=chunks.close, translate=functools.partial(translate, operation="get", key=key)
        )

    def _chunks(
        self, key: str, generation: int, start: int, stop: int, timeout: float | None, *, first: AttemptTime
    ) -> Generator[bytes, None, None]:
        # Pinned to one generation: if the object is replaced mid-read, the next range is a 404, never
        # bytes of the new version. Other errors surface through the reader's translate.
        pinned = self._bucket.blob(key, generation=generation)
        offset = start
        while offset < stop:
            end = min(offset + self._range_size(), stop)
            started = time.monotonic()
            try:
                chunk: bytes = pinned.download_as_bytes(
                    start=offset,
                    end=end - 1,  # inclusive, as HTTP ranges are
                    raw_download=True,  # the stored bytes, as sized by `head`, even if gzip-encoded
                    checksum=None,  # a range has no checksum to check; the object's sha256 is in its metadata
                    timeout=self._timeout(first.left() if offset == start else timeout),
                    retry=None,
                )
            except Exception as exc:
                if not isinstance(translate(exc, operation="get", key=key), NotFound):
                    raise
                # The generation existed when `get` found it: gone now, it was overwritten or deleted.
                # Reading again answers with what the key holds now (a NotFound then is the truth).
                raise ProviderUnavailable(
                    f"the object changed while it was read (generation {generation} is gone)",
                    disposition=Disposition.RETRY,
                    provider=PROVIDER,
                    operation="get",
                    key=key,
                ) from exc
            if not chunk:  # the transfer was cut short; another attempt may get it
                raise ProviderUnavailable(
                    f"GCS returned no bytes at offset {offset} of {stop}",
                    reason=Reason.RESET,
                    disposition=Disposition.RETRY,
                    provider=PROVIDER,
                    operation="get",
                    key=key,
                )
            offset += len(chunk)
            self._measured(len(chunk), time.monotonic() - started)
            yield chunk

    def _range_size(self) -> int:
        throughput = self._throughput
        if throughput is None:
            return _FIRST_RANGE
        return int(min(READ_CHUNK, max(_MIN_RANGE, throughput * _RANGE_SECONDS)))

    def _measured(self, size: int, seconds: float) -> None:
        if size < _MIN_RANGE:
            return  # a small tail says more about latency than throughput
        rate = size / max(seconds, 1e-6)
        self._throughput = rate if self._throughput is None else 0.5 * self._throughput + 0.5 * rate

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

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        validate_timeout(timeout)
        validate_key(key)
        generation: int | None = None
        if if_match is not None:
            if not if_match.isdigit():  # every GCS etag is a generation: any other token names none
                raise PreconditionFailed(
                    f"if_match {if_match!r} is not a GCS generation", provider=PROVIDER, operation="delete", key=key
                )
            generation = int(if_match)
        attempt = AttemptTime(self._config.read_timeout if timeout is None else timeout)
        try:
            with translate_errors(operation="delete", key=key, write=True):
                self._bucket.blob(key).delete(
                    if_generation_match=generation, timeout=self._timeout(timeout), retry=None
                )
        except NotFound as error:
            # Already gone: deleting is idempotent; unless the 404 was the bucket's (GCS's fault).
            checked = self._buckets.check(error, attempt.left())
            if checked is not error:
                raise checked from error.__cause__

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        validate_timeout(timeout)
        prefix, delimiter = validate_listing(prefix, delimiter)
        return self._list(prefix, delimiter, timeout)

    def _list(self, prefix: str, delimiter: str | None, timeout: float | None) -> Iterator[ListEntry]:
        # Each page is fetched inside the translation and yielded outside it, so the caller's own
        # exceptions (thrown in at a yield) are never mistaken for the SDK's.
        with translate_errors(operation="list", key=prefix or None):
            pages = self._client.list_blobs(
                self._bucket, prefix=prefix or None, delimiter=delimiter, timeout=self._timeout(timeout), retry=None
            ).pages
        seen: set[str] = set()
        while True:
            with translate_errors(operation="list", key=prefix or None):
                page = next(pages, None)
                if page is None:
                    return
                blobs = [self._info(blob) for blob in page]
                prefixes = [p for p in getattr(page, "prefixes", ()) if p not in seen]
            yield from blobs
            for common in prefixes:
                seen.add(common)
                yield CommonPrefix(common)

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(src)
        validate_key(dst)
        source, target = self._bucket.blob(src), self._bucket.blob(dst)
        # Rewrite copies server-side in rounds (large objects, other storage classes) and keeps the
        # source's metadata, the failover sha256 and version stamp included.
        with translate_errors(operation="copy", key=src, write=True):
            token, _, _ = target.rewrite(source, timeout=self._timeout(timeout), retry=None)
            while token is not None:
                token, _, _ = target.rewrite(source, token=token, timeout=self._timeout(timeout), retry=None)
        return self._info(target)

    def close(self) -> None:
        self._client.close()

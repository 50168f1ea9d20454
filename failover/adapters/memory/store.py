"""`MemoryStore`: an `ObjectStore` in a dict, with the cloud adapters' checks."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from failover._streams import CHUNK_SIZE
from failover.adapters._common import prepare_put, split_metadata
from failover.errors import InvalidRequest, NotFound, PreconditionFailed
from failover.interfaces import Capabilities, CommonPrefix, Data, ListEntry, ObjectInfo, ObjectReader
from failover.keys import validate_byte_range, validate_key, validate_listing, validate_timeout

__all__ = ["DEFAULT_CAPABILITIES", "PROVIDER", "MemoryStore"]

PROVIDER = "memory"
# S3's limits: the strictest of the three clouds, so code tested here also fits there.
DEFAULT_CAPABILITIES = Capabilities(max_object_size=5 * 1024**4, conditional_delete=True)


@dataclass(frozen=True, slots=True)
class _Object:
    data: bytearray  # never mutated once stored: readers keep streaming the version they opened
    content_type: str | None
    metadata: dict[str, str]  # as stored: failover_sha256 (and failover_version) included
    last_modified: datetime
    etag: str


class MemoryStore:
    """An `ObjectStore` in a dict. Etags are a per-store counter, one value per stored version."""

    def __init__(self, name: str = "memory", *, capabilities: Capabilities | None = None) -> None:
        self._name = name
        self._capabilities = capabilities or DEFAULT_CAPABILITIES
        self._objects: dict[str, _Object] = {}
        self._lock = threading.Lock()
        self._etags = itertools.count(1)

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _info(self, key: str, obj: _Object) -> ObjectInfo:
        user, sha256, version = split_metadata(obj.metadata)
        return ObjectInfo(
            key=key,
            size=len(obj.data),
            provider=PROVIDER,
            content_type=obj.content_type,
            metadata=user,
            last_modified=obj.last_modified,
            etag=obj.etag,
            sha256=sha256,
            version=version,
        )

    def _refuse_unsupported(self, key: str, if_none_match: str | None, if_match: str | None) -> None:
        # A store that cannot enforce a condition refuses it rather than silently overwriting.
        if if_none_match is not None and not self._capabilities.conditional_create:
            raise InvalidRequest(
                f"{self._name} cannot create conditionally",
                rule="conditional_create",
                imposed_by=PROVIDER,
                key=key,
            )
        if if_match is not None and not self._capabilities.conditional_update:
            raise InvalidRequest(
                f"{self._name} cannot update conditionally",
                rule="conditional_update",
                imposed_by=PROVIDER,
                key=key,
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
        self._refuse_unsupported(key, if_none_match, if_match)
        try:
            # Sized up front and filled in place: a large body costs its own size once, not twice.
            buffer = bytearray(prepared.body.size)
            view = memoryview(buffer)
            filled = 0
            while filled < len(buffer) and (chunk := prepared.body.stream.read(min(CHUNK_SIZE, len(buffer) - filled))):
                view[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
            view.release()
            del buffer[filled:]
        finally:
            prepared.body.close()
        with self._lock:
            current = self._objects.get(key)
            if if_none_match == "*" and current is not None:
                raise PreconditionFailed("the key exists", provider=PROVIDER, operation="put", key=key)
            if if_match is not None and (current is None or current.etag != if_match):
                raise PreconditionFailed(
                    "the object's etag is not the one given", provider=PROVIDER, operation="put", key=key
                )
            obj = _Object(buffer, prepared.content_type, prepared.metadata, _now(), f'"{next(self._etags)}"')
            self._objects[key] = obj
        return self._info(key, obj)

    def _lookup(self, key: str, operation: str) -> _Object:
        validate_key(key)
        with self._lock:
            obj = self._objects.get(key)
        if obj is None:
            raise NotFound("no such key", provider=PROVIDER, operation=operation, key=key)
        return obj

    def get(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> ObjectReader:
        validate_timeout(timeout)
        byte_range = validate_byte_range(byte_range)
        obj = self._lookup(key, "get")
        start, stop = byte_range or (0, None)
        return ObjectReader(self._info(key, obj), _chunks(obj.data, start, stop))

    def get_bytes(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        validate_timeout(timeout)
        byte_range = validate_byte_range(byte_range)
        obj = self._lookup(key, "get")
        start, stop = byte_range or (0, None)
        return bytes(obj.data[start:stop])

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        return self._info(key, self._lookup(key, "head"))

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        validate_timeout(timeout)
        validate_key(key)
        if if_match is not None and not self._capabilities.conditional_delete:
            raise InvalidRequest(
                f"{self._name} cannot delete conditionally", rule="conditional_delete", imposed_by=PROVIDER, key=key
            )
        with self._lock:
            current = self._objects.get(key)
            if current is not None and if_match is not None and current.etag != if_match:
                raise PreconditionFailed(
                    f"if_match: the object's etag is {current.etag}", provider=PROVIDER, operation="delete", key=key
                )
            self._objects.pop(key, None)

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        validate_timeout(timeout)
        prefix, delimiter = validate_listing(prefix, delimiter)
        with self._lock:
            snapshot = sorted((key, obj) for key, obj in self._objects.items() if key.startswith(prefix))
        return self._entries(snapshot, prefix, delimiter)

    def _entries(
        self, snapshot: Sequence[tuple[str, _Object]], prefix: str, delimiter: str | None
    ) -> Iterator[ListEntry]:
        rolled: set[str] = set()
        for key, obj in snapshot:
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    folder = key[: cut + len(delimiter)]
                    if folder not in rolled:
                        rolled.add(folder)
                        yield CommonPrefix(folder)
                    continue
            yield self._info(key, obj)

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(dst)
        obj = self._lookup(src, "copy")
        with self._lock:
            copied = _Object(obj.data, obj.content_type, dict(obj.metadata), _now(), f'"{next(self._etags)}"')
            self._objects[dst] = copied
        return self._info(dst, copied)

    def close(self) -> None:
        pass


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(data: bytearray, start: int, stop: int | None) -> Iterator[bytes]:
    end = len(data) if stop is None else min(stop, len(data))
    for offset in range(start, end, CHUNK_SIZE):
        yield bytes(data[offset : min(offset + CHUNK_SIZE, end)])

"""What several S3 handlers share: metadata in and out, times, the storage call wrapped in S3 errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from failover.compat._errors import Reply, S3Error, from_failover
from failover.errors import FailoverError
from failover.interfaces import ObjectInfo, ObjectStore
from failover.keys import RESERVED_PREFIX

__all__ = [
    "Buckets",
    "Handler",
    "Params",
    "failover_errors",
    "http_date",
    "incoming_metadata",
    "read_body",
    "seconds",
    "user_metadata",
]

Params = Mapping[str, Any]
Buckets = Callable[[str], "ObjectStore | None"]
"""The storage of a logical bucket, or None when the configuration does not map it."""
Handler = Callable[[ObjectStore, Params, Buckets], "Reply"]
T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@contextmanager
def failover_errors(*, not_found: str = "NoSuchKey") -> Iterator[None]:
    """Turn a failover error raised inside into the S3 error S3 answers with."""
    try:
        yield
    except FailoverError as exc:
        raise from_failover(exc, not_found=not_found) from exc


def user_metadata(info: ObjectInfo) -> dict[str, str]:
    """The caller's metadata, without the library's own ``failover_*`` names."""
    return {name: value for name, value in info.metadata.items() if not name.startswith(RESERVED_PREFIX)}


def incoming_metadata(params: Params) -> dict[str, str]:
    # S3 lower-cases metadata names on the wire; so does this, before the common-denominator check.
    return {str(name).lower(): str(value) for name, value in (params.get("Metadata") or {}).items()}


@lru_cache(maxsize=4096)
def seconds(moment: datetime | None) -> datetime:
    """A time as S3's headers carry it: to the second, in UTC (kept for the objects read again)."""
    return (moment or EPOCH).astimezone(UTC).replace(microsecond=0)


@lru_cache(maxsize=4096)
def http_date(moment: datetime | None) -> str:
    return seconds(moment).strftime("%a, %d %b %Y %H:%M:%S GMT")


def read_body(body: object) -> bytes:
    """The bytes of a PutObject/UploadPart ``Body``: bytes, str, or a file object (botocore's or ours)."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    read: Callable[[], bytes] | None = getattr(body, "read", None)
    if read is None:
        raise S3Error("InvalidArgument", 400, f"a Body is bytes or a file object, not {type(body).__name__}")
    data = read()
    return data.encode() if isinstance(data, str) else bytes(data)

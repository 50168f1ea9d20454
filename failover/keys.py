"""Validation of keys, metadata, content types, sizes and ranges, to the common denominator.

An object written through `failover` must be storable on every provider it may fail over to, so the
rules are the strictest of S3, GCS and Azure Blob together. Each rule raises `InvalidRequest` naming
the rule and the provider whose limit it keeps, before any network call.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Collection, Mapping

from failover.errors import InvalidRequest

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_USER_METADATA_BYTES",
    "RESERVED_METADATA",
    "RESERVED_PREFIX",
    "metadata_size",
    "validate_body",
    "validate_byte_range",
    "validate_content_type",
    "validate_key",
    "validate_listing",
    "validate_metadata",
    "validate_size",
    "validate_timeout",
]

MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048
"""S3's limit on user metadata as sent: the UTF-8 bytes of every name and value (the strictest provider's)."""
RESERVED_PREFIX = "failover_"
RESERVED_METADATA: Mapping[str, int] = {
    "failover_sha256": 64,  # hex digest
    "failover_version": 12 + 1 + 6 + 1 + 64,  # a version stamp with the longest writer id
}
"""The entries this library adds to every object, with the longest value each can have."""
MAX_USER_METADATA_BYTES = MAX_METADATA_BYTES - sum(len(name) + size for name, size in RESERVED_METADATA.items())
"""What a caller's metadata may take: the provider limit less the room the library's own entries need.

Names and values are ASCII (the rules below), and S3, GCS and Azure send and count them as they are,
so a put that passes validation is never refused by a provider for its metadata size."""
_MAX_CONTENT_TYPE = 255
_METADATA_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
# C0 and C1 control characters and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Unicode noncharacters and lone surrogates: no provider lists them back reliably (Azurite's listing fails).
_NONCHARACTER = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
    + "]"
)


def _reject(rule: str, imposed_by: str, message: str, key: str | None = None) -> InvalidRequest:
    return InvalidRequest(f"{message} [{rule}; {imposed_by}]", rule=rule, imposed_by=imposed_by, key=key)


VALID_KEYS_REMEMBERED = 4096
"""How many keys that passed `validate_key` it remembers (a call layered over another, such as
`FailoverStorage` over its stores, then checks each key once, not once per layer)."""


def validate_key(key: object) -> str:
    """Return ``key`` if every provider can store it, else raise `InvalidRequest`.

    The rules are a pure function of the string: a key that passed recently is not checked again.
    """
    if not isinstance(key, str):
        raise _reject("key.type", "failover", f"a key is a str, not {type(key).__name__}")
    return _checked_key(key)


@functools.lru_cache(maxsize=VALID_KEYS_REMEMBERED)
def _checked_key(key: str) -> str:
    """`validate_key` of a str; only keys that pass are remembered (a raise is not cached)."""
    if _NONCHARACTER.search(key):
        raise _reject(
            "key.noncharacter", "S3, GCS, Azure", "a key must not hold Unicode noncharacters or lone surrogates", key
        )
    encoded = key.encode("utf-8")
    if not encoded:
        raise _reject("key.empty", "S3, GCS, Azure", "a key must not be empty", key)
    if len(encoded) > MAX_KEY_BYTES:
        raise _reject(
            "key.max_length",
            "S3, GCS",
            f"a key is at most {MAX_KEY_BYTES} bytes of UTF-8, this one is {len(encoded)}",
            key,
        )
    if _CONTROL.search(key):
        raise _reject("key.control_character", "GCS, Azure", "a key must not hold control characters", key)
    if "\\" in key:
        raise _reject("key.backslash", "Azure", "Azure turns '\\' in a blob name into '/'", key)
    segments = key.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise _reject("key.dot_segment", "GCS, Azure", "a key must not have a '.' or '..' segment", key)
    if "" in segments[:-1]:
        raise _reject("key.empty_segment", "Azure", "a key must not start with '/' or hold '//'", key)
    if key.endswith(("/", ".")):
        raise _reject("key.trailing", "Azure", "a key must not end with '/' or '.'", key)
    if key.startswith(".well-known/acme-challenge/"):
        raise _reject("key.reserved_path", "GCS", "GCS reserves '.well-known/acme-challenge/'", key)
    return key


def validate_metadata(metadata: Mapping[str, str] | None, *, reserved_allowed: Collection[str] = ()) -> dict[str, str]:
    """Return a copy of ``metadata`` if every provider keeps it byte for byte, else raise.

    ``reserved_allowed`` names the ``failover_`` names that the caller (the failover layer) may write.
    The size limit counts the entries given plus the room the library's own entries not given yet
    will take (`RESERVED_METADATA`), so that what is finally sent fits `MAX_METADATA_BYTES`.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise _reject("metadata.type", "failover", "metadata is a mapping of str to str")
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise _reject("metadata.type", "failover", f"metadata {name!r} must map a str to a str")
        if not _METADATA_NAME.match(name):
            raise _reject(
                "metadata.name",
                "Azure, S3",
                f"metadata name {name!r} must match [a-z_][a-z0-9_]* (Azure needs identifiers, S3 lowercases)",
            )
        if name.startswith(RESERVED_PREFIX) and name not in reserved_allowed:
            raise _reject("metadata.reserved", "failover", f"metadata names starting {RESERVED_PREFIX!r} are reserved")
        if not value.isascii() or not value.isprintable():
            raise _reject("metadata.value_ascii", "S3, Azure", f"metadata {name!r} must be printable ASCII")
        if value != value.strip(" "):
            raise _reject(
                "metadata.value_whitespace",
                "S3, Azure",
                f"metadata {name!r} must not start or end with a space (HTTP headers trim it)",
            )
    total = metadata_size(metadata)
    room = sum(len(name) + size for name, size in RESERVED_METADATA.items() if name not in metadata)
    if total + room > MAX_METADATA_BYTES:
        raise _reject(
            "metadata.max_size",
            "S3",
            f"metadata names and values together are at most {MAX_METADATA_BYTES - room} bytes "
            f"({MAX_METADATA_BYTES} less {room} for this library's own entries), these are {total}",
        )
    return dict(metadata)


def metadata_size(metadata: Mapping[str, str]) -> int:
    """The bytes S3 counts against its limit: every name and value in UTF-8."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in metadata.items())


def validate_content_type(content_type: str | None) -> str | None:
    """Return ``content_type`` if it is a printable ASCII header value, else raise."""
    if content_type is None:
        return None
    if (
        not isinstance(content_type, str)
        or not content_type
        or len(content_type) > _MAX_CONTENT_TYPE
        or not content_type.isascii()
        or not content_type.isprintable()
    ):
        raise _reject(
            "content_type",
            "S3, GCS, Azure",
            f"a content type is 1 to {_MAX_CONTENT_TYPE} printable ASCII characters, not {content_type!r}",
        )
    return content_type


def validate_size(size: int, max_size: int, provider: str) -> int:
    """Return ``size`` if the provider takes objects that large, else raise."""
    if size > max_size:
        raise _reject("object.max_size", provider, f"{provider} stores at most {max_size} bytes an object, not {size}")
    return size


def validate_byte_range(byte_range: object) -> tuple[int, int | None] | None:
    """Return a ``(start, stop)`` slice range (``stop`` exclusive or None), else raise."""
    if byte_range is None:
        return None
    if not (isinstance(byte_range, tuple) and len(byte_range) == 2):
        raise _reject("range.type", "failover", f"a byte range is a (start, stop) tuple, not {byte_range!r}")
    start, stop = byte_range
    if not _is_int(start) or start < 0:
        raise _reject("range.start", "failover", f"a range starts at an int >= 0, not {start!r}")
    if stop is not None and (not _is_int(stop) or stop <= start):
        raise _reject("range.stop", "failover", f"a range stops after its start, not at {stop!r}")
    return (start, stop)


def validate_listing(prefix: object, delimiter: object) -> tuple[str, str | None]:
    """``(prefix, delimiter)`` of a listing, or `InvalidRequest`: a prefix is a str of at most
    `MAX_KEY_BYTES` UTF-8 bytes (it may be empty), a delimiter None or a non-empty str."""
    if not isinstance(prefix, str):
        raise _reject("prefix.type", "failover", f"a prefix is a str, not {type(prefix).__name__}")
    if len(prefix.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise _reject("prefix.length", "failover", f"a prefix is at most {MAX_KEY_BYTES} bytes, as keys are")
    if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
        raise _reject("delimiter", "failover", f"a delimiter is None or a non-empty str, not {delimiter!r}")
    return prefix, delimiter


def validate_timeout(timeout: object) -> float | None:
    """Return ``timeout`` if it is None or a finite number of seconds above 0, else raise."""
    if timeout is None:
        return None
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not math.isfinite(timeout) or timeout <= 0:
        raise _reject("timeout", "failover", f"a timeout is a finite number of seconds above 0, not {timeout!r}")
    return float(timeout)


def validate_body(data: object) -> None:
    """Raise unless ``data`` is bytes-like or a binary file object (not a text-mode one)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return
    mode = getattr(data, "mode", None)
    if isinstance(data, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise _reject("body.type", "failover", "a body is bytes or a binary file object, not a text-mode file")
    if not callable(getattr(data, "read", None)):
        raise _reject("body.type", "failover", f"a body is bytes or a binary file object, not {type(data).__name__}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

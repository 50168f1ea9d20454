"""What every storage adapter does the same way before and after its SDK call.

`prepare_put` runs every check of a put before the network is touched and builds the metadata to
store (the caller's, plus ``failover_sha256``); `split_metadata` turns stored metadata back into the
caller's part, the sha256 and the version stamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from failover._streams import PreparedBody, prepare_body
from failover.errors import InvalidRequest
from failover.interfaces import Capabilities, Data
from failover.keys import RESERVED_PREFIX, validate_content_type, validate_key, validate_metadata

__all__ = ["ETAG_KEY", "SHA256_KEY", "VERSION_KEY", "PreparedPut", "prepare_put", "split_metadata"]

SHA256_KEY = "failover_sha256"
VERSION_KEY = "failover_version"
ETAG_KEY = "failover_etag"
"""The S3-form ETag the boto3 drop-in (`failover.compat`) writes, so that every provider answers with it.
It travels with the caller's metadata (replicated and copied with it) and stays visible there."""
# The failover layer writes the version stamp through the adapters; the sha256 is always computed.
_WRITABLE_RESERVED = frozenset({VERSION_KEY, ETAG_KEY})


@dataclass(slots=True)
class PreparedPut:
    key: str
    body: PreparedBody
    content_type: str | None
    metadata: dict[str, str]  # what to store, failover_sha256 included


def prepare_put(
    key: str,
    data: Data,
    *,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    if_none_match: Literal["*"] | None,
    if_match: str | None,
    capabilities: Capabilities,
    provider: str,
) -> PreparedPut:
    """Validate a put and hash its body; raises `InvalidRequest` before any network call."""
    validate_key(key)
    stored = validate_metadata(metadata, reserved_allowed=_WRITABLE_RESERVED)
    validate_content_type(content_type)
    if if_none_match not in (None, "*"):
        raise InvalidRequest(
            f"if_none_match takes only '*', not {if_none_match!r}", rule="if_none_match", imposed_by="failover", key=key
        )
    if if_match is not None and (not isinstance(if_match, str) or not if_match):
        raise InvalidRequest("if_match takes a non-empty etag", rule="if_match", imposed_by="failover", key=key)
    if if_none_match is not None and if_match is not None:
        raise InvalidRequest(
            "if_none_match and if_match exclude each other", rule="conditions", imposed_by="failover", key=key
        )
    body = prepare_body(data, max_size=capabilities.max_object_size, provider=provider)
    stored[SHA256_KEY] = body.sha256
    return PreparedPut(key, body, content_type, stored)


def split_metadata(raw: Mapping[str, str] | None) -> tuple[dict[str, str], str | None, str | None]:
    """``(user metadata, sha256, version)`` from what a provider returned (names lowercased)."""
    user: dict[str, str] = {}
    for name, value in (raw or {}).items():
        lowered = name.lower()
        if not lowered.startswith(RESERVED_PREFIX) or lowered == ETAG_KEY:
            user[lowered] = value
    lowered_raw = {name.lower(): value for name, value in (raw or {}).items()}
    return user, lowered_raw.get(SHA256_KEY), lowered_raw.get(VERSION_KEY)

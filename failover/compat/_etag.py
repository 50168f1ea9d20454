"""S3's ETags, computed here so that every provider answers with the same one.

A single-part object's ETag is the quoted hex MD5 of its bytes; a multipart object's is the MD5 of
its parts' binary MD5s, a dash and the number of parts. The drop-in stores it in the object's
metadata (``failover_etag``); an object written without the drop-in gets one made from its sha256,
which is the same on every provider too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from failover.adapters._common import ETAG_KEY
from failover.interfaces import ObjectInfo

__all__ = ["ETAG_KEY", "etag_of", "matches", "multipart_etag", "single_etag"]


def single_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def multipart_etag(part_etags: Iterable[str]) -> str:
    digests = [bytes.fromhex(etag.strip('"')) for etag in part_etags]
    return f'"{hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"'


def etag_of(info: ObjectInfo) -> str:
    """The ETag the application sees for ``info``, whichever provider answered."""
    stored = info.metadata.get(ETAG_KEY)
    if stored:
        return stored
    if info.sha256:
        return f'"{info.sha256[:32]}"'
    return f'"{(info.etag or "").strip(chr(34))}"'


def matches(condition: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match value (``*``, a list, quoted or not) names ``etag``."""
    bare = etag.strip('"')
    return any(part.strip() in ("*", etag, bare) for part in condition.split(","))

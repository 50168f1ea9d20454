"""The differential corpus's machinery: calls recorded as comparable observations.

A case is a sequence of boto3 calls against one client; each call's answer is recorded as its
fields (a body read to bytes) or as its error's code and HTTP status. Two runs of a case agree when
their observations are equal after dropping the fields allowed to differ:

- ``ResponseMetadata`` other than ``HTTPStatusCode``: request ids, host ids, headers, retries.
- ``LastModified``, ``Initiated``: the clock of whichever store took the write.
- ``Owner``: S3's owner id and display name are the account's; the drop-in names "failover".
- ``VersionId``, ``ServerSideEncryption``, ``Checksum*``, ``ChecksumType``, ``AcceptRanges``,
  ``StorageClass``, ``Expiration``, ``x-amz-*`` extras: S3 features the drop-in does not carry over.
- ``MessageId``, ``ReceiptHandle``, ``UploadId``, ``NextContinuationToken``, ``ContinuationToken``:
  opaque tokens, compared by use (the sequence goes on with them), not by value.
- ``SenderId``, ``ApproximateFirstReceiveTimestamp``, ``SentTimestamp``, ``SequenceNumber``: the
  sender's identity and clocks.
- ``Marker``, ``NextMarker`` (ListObjects v1): moto omits the echoed marker and sends an ETag as
  ``NextMarker``; the drop-in does as S3 documents (echo it; ``NextMarker`` with a delimiter). The
  paginator walks both the same (a case checks the keys it yields).
- ``Error.Message`` and error fields other than ``Code``: wording differs; the code and status do not.
- SQS error codes are compared by ``QueryErrorCode`` when present (the class botocore raises).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

__all__ = ["ALLOWED_TO_DIFFER", "Case", "Recorder", "differences", "normalize"]

ALLOWED_TO_DIFFER = frozenset(
    {
        "LastModified",
        "Initiated",
        "Owner",
        "Initiator",
        "VersionId",
        "ServerSideEncryption",
        "ChecksumCRC32",
        "ChecksumCRC32C",
        "ChecksumCRC64NVME",
        "ChecksumSHA1",
        "ChecksumSHA256",
        "ChecksumType",
        "ChecksumAlgorithm",
        "AcceptRanges",
        "StorageClass",
        "Expiration",
        "MessageId",
        "ReceiptHandle",
        "UploadId",
        "NextContinuationToken",
        "ContinuationToken",
        "NextUploadIdMarker",
        "UploadIdMarker",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
        "SentTimestamp",
        "SequenceNumber",
        "Location",
        "KeyMarker",
        "NextKeyMarker",
        "RequestCharged",
        "MissingMeta",
        "PartsCount",
        "TagCount",
        "BucketKeyEnabled",
        "ContentEncoding",
        "ContentDisposition",
        "ContentLanguage",
        "CacheControl",
        "Expires",
        "ExpiresString",
        "IsLatest",
        "Marker",
        "NextMarker",  # see `normalize`: list ETags of in-part objects follow S3's part size on S3 only
    }
)


def normalize(value: Any) -> Any:
    """``value`` with the fields allowed to differ dropped and bodies read."""
    if isinstance(value, StreamingBody):
        return value.read()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name == "ResponseMetadata":
                out["HTTPStatusCode"] = item.get("HTTPStatusCode")
            elif name not in ALLOWED_TO_DIFFER:
                out[name] = normalize(item)
        return out
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    return value


def error_of(exc: ClientError) -> tuple[str, str, int]:
    error = exc.response.get("Error", {})
    code = str(error.get("QueryErrorCode") or error.get("Code"))
    return ("error", code, int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)))


@dataclass
class Recorder:
    """Runs calls and keeps what each answered, in order."""

    observations: list[Any] = field(default_factory=list)

    def __call__(self, call: Callable[..., Any], /, **kwargs: Any) -> Any:
        try:
            answer = call(**kwargs)
        except ClientError as exc:
            self.observations.append(error_of(exc))
            return None
        normalized = normalize(answer)
        self.observations.append(normalized)
        return answer

    def note(self, value: Any) -> None:
        """Record a value the case derived (a sorted listing, a body read from a download)."""
        self.observations.append(normalize(value))


@dataclass(frozen=True)
class Case:
    """One sequence of calls: ``run(client, record, name)``; ``name`` is the bucket or queue."""

    id: str
    run: Callable[[Any, Recorder, str], None]


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``: one line per differing path, for a failure message."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines: list[str] = []
        for name in sorted(set(expected) | set(actual), key=str):
            if name not in actual:
                lines.append(f"{path}.{name}: missing (expected {expected[name]!r:.120})")
            elif name not in expected:
                lines.append(f"{path}.{name}: unexpected {actual[name]!r:.120}")
            else:
                lines += differences(expected[name], actual[name], f"{path}.{name}")
        return lines
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            line
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for line in differences(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: expected {expected!r:.160}, got {actual!r:.160}"]

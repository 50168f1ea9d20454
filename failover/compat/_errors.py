"""Answers in botocore's own shapes: `Reply` for a result, `S3Error` for an error, and the table that
turns a failover error into the code and HTTP status S3 (or SQS) answers with.

A before-call handler returns ``(http_response, parsed)``; botocore raises the `ClientError` subclass
named by ``parsed["Error"]["Code"]`` when the status is 300 or more, so ``client.exceptions.NoSuchKey``
and waiters see what a real endpoint would have produced.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from botocore.awsrequest import AWSResponse

from failover.errors import (
    AccessDenied,
    AllProvidersFailed,
    FailoverError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    ProviderError,
    StaleReadRisk,
)

__all__ = ["Reply", "S3Error", "answer", "from_failover", "respond"]


@dataclass
class Reply:
    """A successful answer: the parsed fields, the HTTP status and the headers S3 would send."""

    parsed: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class S3Error(Exception):
    """An error answer: S3's (or SQS's) code, HTTP status and message, with any extra fields."""

    def __init__(self, code: str, status: int, message: str, **fields: Any) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.status = status
        self.message = message
        self.fields = fields


# (code, status) per failover error; the first matching class wins, so subclasses come first.
_TABLE: tuple[tuple[type[FailoverError], str, int], ...] = (
    (NotFound, "NoSuchKey", 404),
    (PreconditionFailed, "PreconditionFailed", 412),
    (InvalidRequest, "InvalidArgument", 400),
    (AccessDenied, "AccessDenied", 403),
    (AllProvidersFailed, "ServiceUnavailable", 503),
    (StaleReadRisk, "ServiceUnavailable", 503),
    (ProviderError, "ServiceUnavailable", 503),
    (OutcomeUnknown, "InternalError", 500),
    (FailoverError, "InternalError", 500),
)


def from_failover(exc: FailoverError, *, not_found: str = "NoSuchKey") -> S3Error:
    """The S3 error for ``exc``; `AllProvidersFailed` names each provider's error in the message."""
    for kind, code, status in _TABLE:
        if isinstance(exc, kind):
            if kind is NotFound:
                code = not_found
            return S3Error(code, status, _message(exc))
    raise AssertionError(f"no S3 error for {type(exc).__name__}")  # pragma: no cover - FailoverError is last


def _message(exc: FailoverError) -> str:
    if isinstance(exc, AllProvidersFailed) and exc.errors:
        each = "; ".join(
            f"{getattr(error, 'provider', '') or '?'}: {type(error).__name__}: {error}" for error in exc.errors
        )
        return f"every provider failed: {each}"
    return str(exc)


def respond(result: Reply | S3Error, *, head: bool = False) -> tuple[AWSResponse, dict[str, Any]]:
    """``(http_response, parsed)`` for a before-call handler to return.

    ``head`` is for HEAD requests: S3 sends no body with their errors, so botocore names the error by
    its status (``"404"``, ``"412"``, ``"304"``); so does this.
    """
    status, parsed = answer(result, head=head)
    # The headers live in ResponseMetadata, where applications read them; botocore's after-call
    # handlers and s3transfer read the parsed fields, so the response object carries none (cheaper).
    return AWSResponse("", status, cast(Any, _NO_HEADERS), None), parsed


def answer(result: Reply | S3Error, *, head: bool = False) -> tuple[int, dict[str, Any]]:
    """``(status, parsed)``: the parsed response botocore would have made of S3's answer."""
    request_id = f"{_PREFIX}{next(_REQUESTS):08X}"
    if isinstance(result, Reply):
        status, parsed, headers = result.status, result.parsed, result.headers
    else:
        status, headers = result.status, {}
        bare = head or result.status == 304  # S3 sends no body with these: botocore names them by status
        code, message = (str(result.status), _REASONS.get(result.status, "")) if bare else (result.code, result.message)
        parsed = {"Error": {"Code": code, "Message": message, **result.fields}}
    lowered = {"x-amz-request-id": request_id}
    for name, value in headers.items():
        lowered[name.lower()] = value
    parsed["ResponseMetadata"] = {
        "RequestId": request_id,
        "HostId": "",
        "HTTPStatusCode": status,
        "HTTPHeaders": lowered,
        "RetryAttempts": 0,
    }
    return status, parsed


_REASONS = {304: "Not Modified", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 412: "Precondition Failed"}


_NO_HEADERS: Mapping[str, str] = {}
# Request ids: a random prefix per process and a counter (uuid4 per call cost more than the rest).
_PREFIX = uuid.uuid4().hex[:8].upper()
_REQUESTS = itertools.count(1)

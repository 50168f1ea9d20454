"""botocore's exceptions, translated into failover's tree once, at the AWS adapters' edge.

The translation is data: `_BY_CODE` maps the error codes S3 and SQS answer with, `_by_status` the
HTTP statuses behind codes the table does not know, `_BY_CLASS_NAME` botocore's client-side errors,
and `failover.adapters._network.network_reason` reads the wire failures (refused, DNS, timeouts,
resets) out of botocore's and urllib3's chains. Exceptions that come from neither the SDK nor the
network (a bug) pass through unchanged.

A write (put, copy, delete, send, ack, ...) whose request may have reached S3 or SQS before the
answer was lost (a read timeout, a reset, any failure but refused, DNS or connect timeout) raises
`OutcomeUnknown`, not `ProviderUnavailable`: the engine must find out whether it happened before it
writes again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from failover.adapters._network import network_error, network_reason
from failover.adapters._translation import from_packages, translating
from failover.errors import (
    AccessDenied,
    Disposition,
    FailoverError,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    ProviderUnavailable,
    Reason,
)

__all__ = ["entry_error", "error_code", "translate", "translate_errors"]


@dataclass(frozen=True, slots=True)
class _Rule:
    error: type[FailoverError]
    reason: Reason = Reason.OTHER
    disposition: Disposition | None = None


_NOT_FOUND = _Rule(NotFound)
_PRECONDITION = _Rule(PreconditionFailed)
# Credentials rejected: every call would be; the provider is down for us.
_DENIED = _Rule(AccessDenied, Reason.AUTH)
# One request refused by policy: another provider may hold the key or allow the call; S3 is up.
_FORBIDDEN = _Rule(AccessDenied, Reason.FORBIDDEN)
# The bucket or queue is missing on this provider: its fault, not the caller's; the others may have it.
_NO_BUCKET = _Rule(ProviderUnavailable, Reason.NO_BUCKET, Disposition.FAILOVER)
_THROTTLED = _Rule(ProviderUnavailable, Reason.THROTTLED, Disposition.RETRY)
_SERVER = _Rule(ProviderUnavailable, Reason.SERVER_ERROR, Disposition.RETRY)
_INVALID = _Rule(InvalidRequest)

_BY_CODE: dict[str, _Rule] = {
    # S3: missing things. HEAD answers carry no body, so their code is the bare status.
    "NoSuchKey": _NOT_FOUND,
    "NoSuchBucket": _NO_BUCKET,
    "NoSuchUpload": _NOT_FOUND,
    "NotFound": _NOT_FOUND,
    "404": _NOT_FOUND,
    # SQS: the JSON protocol's query-compatible code, and the bare shape name.
    "AWS.SimpleQueueService.NonExistentQueue": _NOT_FOUND,
    "QueueDoesNotExist": _NOT_FOUND,
    # A receipt handle that names no message in flight (deleted, expired, or never issued).
    "ReceiptHandleIsInvalid": _NOT_FOUND,
    "MessageNotInflight": _NOT_FOUND,
    "AWS.SimpleQueueService.MessageNotInflight": _NOT_FOUND,
    "PreconditionFailed": _PRECONDITION,
    "412": _PRECONDITION,
    # S3 answers 409 when two conditional writes of one key race: the condition was not judged, ask again.
    "ConditionalRequestConflict": _Rule(ProviderUnavailable, Reason.OTHER, Disposition.RETRY),
    # A refusal by policy: S3 answers a HEAD or GET of a missing key with it to a caller without
    # s3:ListBucket. A HEAD's answer has no body: its bare 403 is read the same way (with rejected
    # credentials, a HEAD's 403 looks alike, but the GETs and PUTs beside it carry the code).
    "AccessDenied": _FORBIDDEN,
    "AccessDeniedException": _FORBIDDEN,
    "AllAccessDisabled": _FORBIDDEN,
    "AuthorizationError": _FORBIDDEN,
    "403": _FORBIDDEN,
    "InvalidAccessKeyId": _DENIED,
    "SignatureDoesNotMatch": _DENIED,
    "InvalidClientTokenId": _DENIED,
    "UnrecognizedClientException": _DENIED,
    "InvalidSecurity": _DENIED,
    "MissingAuthenticationToken": _DENIED,
    "ExpiredToken": _DENIED,
    "ExpiredTokenException": _DENIED,
    "TokenRefreshRequired": _DENIED,
    "RequestTimeTooSkewed": _DENIED,
    "SlowDown": _THROTTLED,
    "Throttling": _THROTTLED,
    "ThrottlingException": _THROTTLED,
    "RequestThrottled": _THROTTLED,
    "RequestThrottledException": _THROTTLED,
    "AWS.SimpleQueueService.RequestThrottled": _THROTTLED,
    "TooManyRequestsException": _THROTTLED,
    "RequestLimitExceeded": _THROTTLED,
    "KMS.ThrottlingException": _THROTTLED,
    "429": _THROTTLED,
    "InternalError": _SERVER,
    "InternalFailure": _SERVER,
    "ServiceUnavailable": _SERVER,
    "AWS.SimpleQueueService.ServiceUnavailable": _SERVER,
    "OperationAborted": _Rule(ProviderUnavailable, Reason.OTHER, Disposition.RETRY),
    # S3's 400 for a body that stalled on the way in: the connection, not the request, was at fault.
    "RequestTimeout": _Rule(ProviderUnavailable, Reason.READ_TIMEOUT, Disposition.RETRY),
}


def _by_status(status: int) -> _Rule:
    if status == 404:
        return _NOT_FOUND
    if status == 412:
        return _PRECONDITION
    if status == 401:
        return _DENIED
    if status == 403:
        return _FORBIDDEN
    if status == 429:
        return _THROTTLED
    if status >= 500:
        return _SERVER
    if 400 <= status < 500:
        return _INVALID  # the provider rejected the request itself
    return _Rule(ProviderUnavailable)


# botocore classes that are not about the network, by name (botocore is imported only when an error is met).
_BY_CLASS_NAME: tuple[tuple[str, _Rule], ...] = (
    ("ParamValidationError", _INVALID),
    ("NoCredentialsError", _DENIED),
    ("PartialCredentialsError", _DENIED),
    ("CredentialRetrievalError", _DENIED),
    ("NoRegionError", _INVALID),
    # The body did not match its checksum on the way: corrupted in transit, worth another try.
    ("FlexibleChecksumError", _Rule(ProviderUnavailable, Reason.OTHER, Disposition.RETRY)),
    ("ChecksumError", _Rule(ProviderUnavailable, Reason.OTHER, Disposition.RETRY)),
    # The body ended before its Content-Length: the connection broke mid-read.
    ("IncompleteReadError", _Rule(ProviderUnavailable, Reason.RESET, Disposition.RETRY)),
)
# The packages whose exceptions are translated (with the network stack's, see `from_packages`).
_TRANSLATED_MODULES = ("botocore", "boto3", "urllib3", "s3transfer")


def _response(exc: BaseException) -> dict[str, Any] | None:
    response = getattr(exc, "response", None)
    return response if isinstance(response, dict) else None


def error_code(exc: BaseException | None) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``"NoSuchKey"``), else None."""
    if exc is None:
        return None
    response = _response(exc)
    if response is None:
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def _status(exc: BaseException) -> int | None:
    response = _response(exc)
    status = (response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _message(exc: BaseException) -> str:
    response = _response(exc)
    if response is not None:
        error = response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message') or 'no message'}"
    return f"{type(exc).__name__}: {exc}"


def translate(
    exc: BaseException,
    *,
    operation: str,
    key: str | None = None,
    write: bool = False,
    provider: str = "aws",
    overrides: Mapping[str, type[FailoverError]] | None = None,
) -> BaseException:
    """The failover error for an SDK exception; anything else (a bug, a failover error) unchanged.

    ``overrides`` maps error codes to the error one operation means by them (a conditional put's
    ``NoSuchKey`` is a failed precondition).
    """
    if isinstance(exc, FailoverError) or not from_packages(exc, _TRANSLATED_MODULES):
        return exc
    where: dict[str, Any] = {"provider": provider, "operation": operation, "key": key}
    code, status = error_code(exc), _status(exc)
    rule: _Rule | None
    if code is not None and overrides and code in overrides:
        rule = _Rule(overrides[code])
    elif code is not None or status is not None:
        rule = _BY_CODE.get(code or "") or _by_status(status or 0)
    else:
        names = {cls.__name__ for cls in type(exc).__mro__}
        rule = next((rule for name, rule in _BY_CLASS_NAME if name in names), None)
    if rule is None:
        return network_error(
            network_reason(exc) or Reason.OTHER, exc, write=write, provider=provider, operation=operation, key=key
        )
    return _build(rule, _message(exc), code, where)


def _build(rule: _Rule, text: str, code: str | None, where: dict[str, Any]) -> FailoverError:
    if issubclass(rule.error, InvalidRequest):
        return InvalidRequest(text, rule=f"aws.{code or 'request'}", imposed_by="AWS", **where)
    if issubclass(rule.error, ProviderUnavailable | AccessDenied):
        return rule.error(text, reason=rule.reason, disposition=rule.disposition, **where)
    return rule.error(text, **where)


# Around every SDK call: raise the failover error for any SDK exception, ``from`` it.
translate_errors = translating(translate)


def entry_error(code: str, message: str, *, sender_fault: bool, operation: str, provider: str = "aws") -> FailoverError:
    """The failover error for one failed entry of a batch call (SendMessageBatch's ``Failed``)."""
    rule = _BY_CODE.get(code) or (_INVALID if sender_fault else _SERVER)
    where: dict[str, Any] = {"provider": provider, "operation": operation, "key": None}
    return _build(rule, f"{code}: {message or 'no message'}", code, where)

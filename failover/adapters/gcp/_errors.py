"""Google Cloud's exceptions, translated into failover's tree once, at the GCP adapters' edge.

What meets the GCS and Pub/Sub adapters:

- ``google.api_core.exceptions``: one class per HTTP status (GCS, over JSON/HTTP) or gRPC status code
  (Pub/Sub); gRPC codes map onto the HTTP classes (``PERMISSION_DENIED`` is a ``Forbidden``,
  ``RESOURCE_EXHAUSTED`` a ``TooManyRequests``), so one table keyed by class name serves both.
  It is looked up along the exception's MRO, most specific class first.
- GCS media errors (``InvalidResponse`` with an HTTP response), met when a download or upload is not
  converted by the client: translated by the response's status.
- ``requests`` / ``urllib3`` / socket errors (GCS) and gRPC ``UNAVAILABLE`` texts (Pub/Sub):
  `failover.adapters._network.network_reason` reads refused, DNS, timeouts and resets out of them.
- ``google.auth`` errors: credentials that cannot be loaded or are refused.

A write whose request may have reached Google before the answer was lost (a read timeout, a reset,
a deadline) raises `OutcomeUnknown`: only a failure to connect proves it did not happen.
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

__all__ = ["PROVIDER", "translate", "translate_errors"]

PROVIDER = "gcp"


@dataclass(frozen=True, slots=True)
class _Rule:
    error: type[FailoverError]
    reason: Reason = Reason.OTHER
    disposition: Disposition | None = None
    # When no HTTP answer came (gRPC, auth): ask `network_reason` first, since gRPC reports refused, DNS
    # and resets as UNAVAILABLE / UNKNOWN with a text; ``unanswered`` replaces this rule when it finds none.
    network: bool = False
    unanswered: _Rule | None = None
    # The call may have been applied before the answer was lost: a write raises OutcomeUnknown.
    ambiguous: bool = False


_NOT_FOUND = _Rule(NotFound)
_PRECONDITION = _Rule(PreconditionFailed)
# Credentials rejected (401 / UNAUTHENTICATED, no credentials found): the provider is down for us.
_DENIED = _Rule(AccessDenied, Reason.AUTH)
# 403 / PERMISSION_DENIED: this one request refused by policy (a role without access to that object).
_FORBIDDEN = _Rule(AccessDenied, Reason.FORBIDDEN)
_NO_BUCKET = _Rule(ProviderUnavailable, Reason.NO_BUCKET, Disposition.FAILOVER)
_THROTTLED = _Rule(ProviderUnavailable, Reason.THROTTLED, Disposition.RETRY)
_SERVER = _Rule(ProviderUnavailable, Reason.SERVER_ERROR, Disposition.RETRY)
_RETRY = _Rule(ProviderUnavailable, Reason.OTHER, Disposition.RETRY)
_INVALID = _Rule(InvalidRequest)

# google.api_core.exceptions class names (HTTP status / gRPC code in the comment).
_BY_API_CLASS: dict[str, _Rule] = {
    "NotFound": _NOT_FOUND,  # 404 / NOT_FOUND: object, bucket, topic or subscription
    "PreconditionFailed": _PRECONDITION,  # 412: ifGenerationMatch not met
    "Unauthorized": _DENIED,  # 401 / UNAUTHENTICATED
    "Forbidden": _FORBIDDEN,  # 403 / PERMISSION_DENIED
    "TooManyRequests": _THROTTLED,  # 429 / RESOURCE_EXHAUSTED
    # ALREADY_EXISTS: creating what exists; the adapters handle it where they create, so elsewhere it is a bug.
    "AlreadyExists": _INVALID,
    # 409 / ABORTED: a concurrent change to the same object (GCS "edited during the operation"): ask again.
    "Conflict": _RETRY,
    # 400 / INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE; 416; other 4xx: the request itself.
    "BadRequest": _INVALID,
    "ClientError": _INVALID,
    "MethodNotImplemented": _INVALID,  # 501 / UNIMPLEMENTED: this endpoint does not do that call
    # CANCELLED: the channel went away under the call.
    "Cancelled": _Rule(ProviderUnavailable, Reason.RESET, Disposition.RETRY, network=True, ambiguous=True),
    # DEADLINE_EXCEEDED: the client's own deadline passed with no answer.
    "DeadlineExceeded": _Rule(ProviderUnavailable, Reason.READ_TIMEOUT, ambiguous=True),
    # 503 over HTTP is a server error worth a retry; gRPC UNAVAILABLE without a network text means the
    # channel could not reach the service at all: go elsewhere.
    "ServiceUnavailable": _Rule(
        ProviderUnavailable, Reason.SERVER_ERROR, Disposition.RETRY, network=True, unanswered=_Rule(ProviderUnavailable)
    ),
    "Unknown": _Rule(ProviderUnavailable, Reason.SERVER_ERROR, Disposition.RETRY, network=True),
    "ServerError": _SERVER,  # 500, 502, 504 / INTERNAL, DATA_LOSS
}

# Exceptions outside api_core's tree, by class name (the SDKs are imported only when an error is met).
_BY_CLASS_NAME: tuple[tuple[str, _Rule], ...] = (
    # Pub/Sub's client-side check that a publish request stays under 10 MB.
    ("MessageTooLargeError", _INVALID),
    # GCS: the bytes did not match their checksum on the way; corrupted in transit, worth another try.
    ("DataCorruption", _RETRY),
    ("DefaultCredentialsError", _DENIED),
    # A token that could not be refreshed: refused credentials, unless the token endpoint was unreachable.
    ("RefreshError", _Rule(AccessDenied, Reason.AUTH, network=True)),
    ("InvalidPathError", _INVALID),
)
# GCS operations on which a 404 can only be the bucket's: an upload creates the object, a listing names none.
_BUCKET_OPERATIONS = frozenset({"put", "list"})
# GCS's message for a bucket that does not exist, on any call (an object's says "No such object").
_NO_BUCKET_TEXT = "bucket does not exist"

# The packages whose exceptions are translated (with the network stack's, see `from_packages`).
_TRANSLATED_MODULES = ("google", "grpc", "requests", "urllib3", "proto")


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of the answer behind ``exc``, when an HTTP answer came (GCS); None for gRPC."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


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
    if status == 409:
        return _RETRY
    if status >= 500:
        return _SERVER
    return _INVALID


def _rule_for(exc: BaseException, overrides: Mapping[str, _Rule]) -> _Rule | None:
    mro = [cls for cls in type(exc).__mro__ if cls.__module__.startswith("google.api_core")]
    for cls in mro:
        rule = overrides.get(cls.__name__) or _BY_API_CLASS.get(cls.__name__)
        if rule is not None:
            return rule
    names = {cls.__name__ for cls in type(exc).__mro__}
    rule = next((rule for name, rule in _BY_CLASS_NAME if name in names), None)
    if rule is not None:
        return rule
    status = _http_status(exc)
    return _by_status(status) if status is not None else None


def translate(
    exc: BaseException,
    *,
    operation: str,
    key: str | None = None,
    write: bool = False,
    provider: str = PROVIDER,
    overrides: Mapping[str, type[FailoverError]] | None = None,
) -> BaseException:
    """The failover error for a Google SDK exception; anything else (a bug, a failover error) unchanged.

    ``overrides`` maps api_core class names to what one operation means by them (an ack id that
    Pub/Sub calls ``InvalidArgument`` names no message in flight: `NotFound`).
    """
    if isinstance(exc, FailoverError) or not from_packages(exc, _TRANSLATED_MODULES):
        return exc
    cause = getattr(exc, "cause", None)
    if type(exc).__name__ == "RetryError" and isinstance(cause, BaseException):
        # api_core's retry gave up; the last attempt's error says why (retries are off, but stay safe).
        return translate(cause, operation=operation, key=key, write=write, provider=provider, overrides=overrides)
    where: dict[str, Any] = {"provider": provider, "operation": operation, "key": key}
    rule = _rule_for(exc, {name: _Rule(error) for name, error in (overrides or {}).items()})
    if rule is None or (rule.network and _http_status(exc) is None):
        reason = network_reason(exc)
        if reason is not None:
            return network_error(reason, exc, write=write, **where)
        if rule is None:
            return network_error(Reason.OTHER, exc, write=write, **where)
        rule = rule.unanswered or rule
    if rule.ambiguous:
        return network_error(rule.reason, exc, write=write, **where)
    if rule is _NOT_FOUND and (operation in _BUCKET_OPERATIONS or _NO_BUCKET_TEXT in str(exc)):
        rule = _NO_BUCKET  # the bucket is missing on GCS: GCS's fault, the other stores may hold the key
    message = f"{type(exc).__name__}: {exc}"
    if issubclass(rule.error, InvalidRequest):
        return InvalidRequest(message, rule=f"gcp.{type(exc).__name__}", imposed_by="GCP", **where)
    if issubclass(rule.error, ProviderUnavailable | AccessDenied):
        return rule.error(message, reason=rule.reason, disposition=rule.disposition, **where)
    return rule.error(message, **where)


# Around every SDK call: raise the failover error for any Google SDK exception, ``from`` it.
translate_errors = translating(translate)

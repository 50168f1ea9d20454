"""Azure SDK exceptions translated into failover's error tree, once, at the adapters' edge.

The Azure SDKs raise ``azure.core.exceptions`` classes: `HttpResponseError` (and its subclasses
`ResourceNotFoundError`, `ResourceExistsError`, `ResourceModifiedError`, `ClientAuthenticationError`)
when the service answered, carrying ``status_code`` and the storage ``error_code``;
`ServiceRequestError` when the request never left (refused, DNS, connect timeout);
`ServiceResponseError` when it left and no answer came (read timeout, reset). The last one is what
makes a write ambiguous: a timed-out Azure queue send was seen delivered later.

Classification is data: `_BY_CODE` (storage error codes) first, then `_BY_STATUS`; network failures
go through `failover.adapters._network.network_reason`. Adapters use one context manager around every
SDK call::

    with translate_errors("put", key=key, write=True):
        blob.upload_blob(...)
"""

from __future__ import annotations

import enum
from typing import Any

from failover.adapters._network import network_error, network_reason
from failover.adapters._translation import translating
from failover.errors import (
    AccessDenied,
    Disposition,
    FailoverError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    ProviderUnavailable,
    Reason,
)

__all__ = ["PROVIDER", "error_code", "translate_errors", "translate_exception"]

PROVIDER = "azure"


class _Kind(enum.Enum):
    NOT_FOUND = "not_found"
    PRECONDITION = "precondition"
    DENIED = "denied"  # credentials rejected: the provider is down for us
    FORBIDDEN = "forbidden"  # this one request refused by policy
    NO_CONTAINER = "no_container"  # the container is missing on this account: Azure's fault
    THROTTLED = "throttled"
    SERVER = "server"
    # The server gave up on the call and says it may or may not have been applied.
    SERVER_TIMEOUT = "server_timeout"
    INVALID = "invalid"


# Storage error codes (x-ms-error-code), Blob and Queue together. A code decides before the status.
_BY_CODE: dict[str, _Kind] = {
    "BlobNotFound": _Kind.NOT_FOUND,
    "ContainerNotFound": _Kind.NO_CONTAINER,
    "QueueNotFound": _Kind.NOT_FOUND,
    "MessageNotFound": _Kind.NOT_FOUND,
    "ResourceNotFound": _Kind.NOT_FOUND,
    "CannotVerifyCopySource": _Kind.NOT_FOUND,
    # A pop receipt that no longer matches: the message was received again (it has a new receipt)
    # or the receipt was replaced by an update. Either way this holder's claim on the message is
    # gone, like a message that no longer exists: NotFound, documented on AzureQueue.
    "PopReceiptMismatch": _Kind.NOT_FOUND,
    "ConditionNotMet": _Kind.PRECONDITION,
    "BlobAlreadyExists": _Kind.PRECONDITION,
    "SourceConditionNotMet": _Kind.PRECONDITION,
    "TargetConditionNotMet": _Kind.PRECONDITION,
    # Every call of ours would be refused: a bad key or SAS signature, an expired token, a disabled
    # account, a firewall or SAS IP range that excludes us (Azurite answers a bad key with
    # AuthorizationFailure; Azure with AuthenticationFailed, and AuthorizationFailure for network rules).
    "AuthenticationFailed": _Kind.DENIED,
    "InvalidAuthenticationInfo": _Kind.DENIED,
    "AccountIsDisabled": _Kind.DENIED,
    "AuthorizationFailure": _Kind.DENIED,
    "AuthorizationSourceIPMismatch": _Kind.DENIED,
    # This request refused by policy: an RBAC role or SAS without that permission, resource or service.
    "AuthorizationPermissionMismatch": _Kind.FORBIDDEN,
    "AuthorizationResourceTypeMismatch": _Kind.FORBIDDEN,
    "AuthorizationServiceMismatch": _Kind.FORBIDDEN,
    "AuthorizationProtocolMismatch": _Kind.FORBIDDEN,
    "InsufficientAccountPermissions": _Kind.FORBIDDEN,
    "ServerBusy": _Kind.THROTTLED,
    "InternalError": _Kind.SERVER,
    "OperationTimedOut": _Kind.SERVER_TIMEOUT,
    # Transient conflicts: the name is being deleted; trying again later succeeds.
    "ContainerBeingDeleted": _Kind.SERVER,
    "QueueBeingDeleted": _Kind.SERVER,
    "InvalidRange": _Kind.INVALID,
    "RequestBodyTooLarge": _Kind.INVALID,
    "MessageTooLarge": _Kind.INVALID,
}

_BY_STATUS: dict[int, _Kind] = {
    401: _Kind.DENIED,
    403: _Kind.FORBIDDEN,
    404: _Kind.NOT_FOUND,
    412: _Kind.PRECONDITION,
    429: _Kind.THROTTLED,
    503: _Kind.THROTTLED,
}

# Operations that read: a precondition failing there means the object changed between the chunks
# of one download (the SDK pins later chunks to the first one's ETag); reading again succeeds.
_READS = frozenset({"get", "head", "list", "receive"})


def error_code(exc: BaseException) -> str | None:
    """The storage error code (``BlobNotFound``...) of an SDK exception, or None."""
    code: Any = getattr(exc, "error_code", None)
    if code is None:
        return None
    # Sometimes a StorageErrorCode (a str enum), sometimes the header's plain str.
    return str(code.value) if isinstance(code, enum.Enum) else str(code)


def _is_sdk_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("azure.", "requests", "urllib3", "http.client")) or isinstance(exc, OSError)


def translate_exception(
    exc: BaseException, operation: str, *, key: str | None = None, write: bool = False
) -> BaseException:
    """The failover error for ``exc`` raised by an Azure SDK call; other exceptions unchanged.

    ``write`` marks calls that change state: a write that timed out or broke after its request was
    sent may have happened, and becomes `OutcomeUnknown` instead of `ProviderUnavailable`.
    """
    if isinstance(exc, FailoverError) or not _is_sdk_error(exc):
        return exc
    where: dict[str, Any] = {"provider": PROVIDER, "operation": operation, "key": key}
    detail = _first_line(exc)
    status = getattr(exc, "status_code", None)
    code = error_code(exc)
    kind = _BY_CODE.get(code or "") or (_BY_STATUS.get(status) if isinstance(status, int) else None)
    if kind is None and isinstance(status, int):
        kind = _Kind.SERVER if status >= 500 else _Kind.INVALID if status >= 400 else None
    if kind is None and type(exc).__name__ == "ClientAuthenticationError":
        # azure-identity raises it with no HTTP status when no credential could get a token.
        kind = _Kind.DENIED
    if kind is not None:
        return _by_kind(kind, detail, code, operation, write, where)
    return _by_network(exc, detail, write, where)


def _by_kind(
    kind: _Kind, detail: str, code: str | None, operation: str, write: bool, where: dict[str, Any]
) -> FailoverError:
    label = f"{code}: {detail}" if code else detail
    if kind is _Kind.NOT_FOUND:
        return NotFound(label, **where)
    if kind is _Kind.PRECONDITION:
        if operation in _READS:
            return ProviderUnavailable(
                f"the object changed while it was read ({label})", disposition=Disposition.RETRY, **where
            )
        return PreconditionFailed(label, **where)
    if kind is _Kind.DENIED:
        return AccessDenied(label, **where)
    if kind is _Kind.FORBIDDEN:
        return AccessDenied(label, reason=Reason.FORBIDDEN, **where)
    if kind is _Kind.NO_CONTAINER:
        return ProviderUnavailable(
            f"the container does not exist on this account ({label})",
            reason=Reason.NO_BUCKET,
            disposition=Disposition.FAILOVER,
            **where,
        )
    if kind is _Kind.THROTTLED:
        return ProviderUnavailable(label, reason=Reason.THROTTLED, disposition=Disposition.RETRY, **where)
    if kind is _Kind.SERVER_TIMEOUT and write:
        return OutcomeUnknown(f"the service timed out a write that may have happened ({label})", **where)
    if kind in (_Kind.SERVER, _Kind.SERVER_TIMEOUT):
        return ProviderUnavailable(label, reason=Reason.SERVER_ERROR, disposition=Disposition.RETRY, **where)
    return InvalidRequest(label, rule=f"azure.{code or 'request'}", imposed_by="Azure", **where)


def _by_network(exc: BaseException, detail: str, write: bool, where: dict[str, Any]) -> FailoverError:
    reason = network_reason(exc) or Reason.OTHER
    # ServiceRequestError: the request was not sent. ServiceResponseError (timeouts included): it
    # was, and whatever it asked for may have happened.
    sent = not any(cls.__name__ == "ServiceRequestError" for cls in type(exc).__mro__)
    unknown = f"no answer to a write that was sent ({reason.value}: {detail})"
    return network_error(reason, exc, write=write, sent=sent, message=detail, unknown_message=unknown, **where)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# Raise the failover error for any Azure SDK exception raised inside, with it as ``__cause__``.
translate_errors = translating(translate_exception)

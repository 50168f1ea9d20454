"""What went wrong on the wire, read from any SDK's exception chain.

Every SDK wraps the socket error that tells refused from unresolvable from timed out in its own
classes (botocore ``EndpointConnectionError``, urllib3 ``NameResolutionError``, requests
``ConnectionError``, azure-core ``ServiceRequestError``, grpc ``UNAVAILABLE`` with a text). The
adapters' error tables call `network_reason` to find it, and `network_error` to turn it into failover's
error, so this knowledge lives in one place.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from failover.errors import Disposition, FailoverError, OutcomeUnknown, ProviderUnavailable, Reason

__all__ = ["NOT_SENT", "network_error", "network_reason", "walk_chain"]

# Failures that happen before a request leaves: a write that met one of them certainly did not happen.
NOT_SENT = frozenset({Reason.REFUSED, Reason.DNS, Reason.CONNECT_TIMEOUT})

# Class names met in SDK chains, checked when no socket-level exception is reachable.
_BY_CLASS_NAME = (
    ("NameResolutionError", Reason.DNS),
    ("ConnectTimeout", Reason.CONNECT_TIMEOUT),
    ("ConnectTimeoutError", Reason.CONNECT_TIMEOUT),
    ("ReadTimeout", Reason.READ_TIMEOUT),
    ("ReadTimeoutError", Reason.READ_TIMEOUT),
    ("ProtocolError", Reason.RESET),
    ("IncompleteRead", Reason.RESET),
    ("ChunkedEncodingError", Reason.RESET),
    ("RemoteDisconnected", Reason.RESET),
)
# Texts met in messages (grpc and some wrappers carry only a string).
_BY_TEXT = (
    ("name or service not known", Reason.DNS),
    ("nodename nor servname", Reason.DNS),
    ("temporary failure in name resolution", Reason.DNS),
    ("dns resolution failed", Reason.DNS),
    ("failed to resolve", Reason.DNS),
    ("no address associated with hostname", Reason.DNS),
    ("domain name not found", Reason.DNS),  # grpc's c-ares resolver
    ("errors resolving", Reason.DNS),  # grpc's UNAVAILABLE text for a failed lookup
    ("connection refused", Reason.REFUSED),
    ("connect timeout", Reason.CONNECT_TIMEOUT),
    ("connection timed out", Reason.CONNECT_TIMEOUT),
    ("read timed out", Reason.READ_TIMEOUT),
    ("deadline exceeded", Reason.READ_TIMEOUT),
    ("timed out", Reason.READ_TIMEOUT),
    ("connection reset", Reason.RESET),
    ("connection aborted", Reason.RESET),
    ("broken pipe", Reason.RESET),
    ("remote end closed", Reason.RESET),
)


def walk_chain(exc: BaseException, limit: int = 32) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and exceptions SDKs keep in attributes or args."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < limit:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked: list[object] = [current.__cause__, current.__context__, *current.args]
        for attribute in ("reason", "error", "original_error", "inner_exception", "exc"):
            linked.append(getattr(current, attribute, None))
        kwargs = getattr(current, "kwargs", None)
        if isinstance(kwargs, dict):
            linked.extend(kwargs.values())
        todo.extend(item for item in linked if isinstance(item, BaseException))


def network_reason(exc: BaseException) -> Reason | None:
    """The network failure behind ``exc``, or None if it is not one."""
    chain = list(walk_chain(exc))
    for error in chain:
        if isinstance(error, socket.gaierror):
            return Reason.DNS
        if isinstance(error, ConnectionRefusedError):
            return Reason.REFUSED
        if isinstance(error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return Reason.RESET
    for error in chain:
        for name, reason in _BY_CLASS_NAME:
            if any(cls.__name__ == name for cls in type(error).__mro__):
                return reason
    for error in chain:
        if isinstance(error, TimeoutError | socket.timeout):
            return Reason.READ_TIMEOUT
    text = " ".join(str(error) for error in chain).lower()
    for needle, reason in _BY_TEXT:
        if needle in text:
            return reason
    return None


def network_error(
    reason: Reason,
    exc: BaseException,
    *,
    write: bool,
    provider: str,
    operation: str,
    key: str | None,
    sent: bool = True,
    message: str | None = None,
    unknown_message: str | None = None,
) -> FailoverError:
    """The failover error for a call that failed on the wire for ``reason``.

    A write that may have been sent and acted on (``sent``, and a failure past connecting) becomes
    `OutcomeUnknown`; anything else `ProviderUnavailable`, to retry on the same provider after a
    reset. ``message`` replaces the text ``"read_timeout: ReadTimeoutError: ..."``, and
    ``unknown_message`` the `OutcomeUnknown`'s ``"put may or may not have happened (...)"``.
    """
    where: dict[str, str | None] = {"provider": provider, "operation": operation, "key": key}
    text = message if message is not None else f"{reason.value}: {type(exc).__name__}: {exc}"
    # The request may have been sent and acted on; only a failure to connect proves a write did not happen.
    if write and sent and reason not in NOT_SENT:
        unknown = (
            unknown_message if unknown_message is not None else f"{operation} may or may not have happened ({text})"
        )
        return OutcomeUnknown(unknown, **where)
    disposition = Disposition.RETRY if reason is Reason.RESET else None
    return ProviderUnavailable(text, reason=reason, disposition=disposition, **where)

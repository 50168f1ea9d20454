"""What went wrong on the wire, read from any SDK's exception chain.

Every SDK wraps the socket error that tells refused from unresolvable from timed out in its own
classes (botocore ``EndpointConnectionError``, urllib3 ``NameResolutionError``, requests
``ConnectionError``, azure-core ``ServiceRequestError``, grpc ``UNAVAILABLE`` with a text). The
adapters' error tables call `network_reason` to find it, so this knowledge lives in one place.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from failover.errors import Reason

__all__ = ["network_reason", "walk_chain"]

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

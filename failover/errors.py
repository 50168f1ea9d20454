"""The exceptions `failover` raises.

Every adapter translates its SDK's exceptions into this tree once, at its own edge, and keeps the
original as ``__cause__``. Nothing above the adapters sees a botocore, google.api_core or azure.core
exception::

    FailoverError
    ├── ConfigError(ValueError)           bad configuration, missing extra
    ├── InvalidRequest(ValueError)        bad key, metadata, size: raised before any provider is called
    ├── NotFound(LookupError)             the object or queue does not exist (and we are sure of it)
    ├── PreconditionFailed                if_match / if_none_match not met
    ├── ProviderError                     .provider .operation .reason .disposition
    │   ├── ProviderUnavailable           connect refused, DNS failure, timeout, 5xx, throttling
    │   └── AccessDenied                  credentials rejected (reason AUTH: the provider is down for us),
    │                                     or one request refused by policy (reason FORBIDDEN)
    ├── OutcomeUnknown                    a write that may or may not have happened (timed out mid-call)
    ├── StaleReadRisk                     the only reachable copy may be older than an acked write
    ├── IntegrityError                    ciphertext failed its check: wrong or unknown key, tampered,
    │                                     truncated or reordered (.key_id .check); never failed over
    ├── AllProvidersFailed                every candidate failed; .errors holds each provider's error
    └── JournalError                      the local journal or dedup window could not be read or
                                          written in time (locked, disk full, corrupt)

Each error's ``disposition`` tells the resilience engine what to do with it:

- ``RETRY``: worth another attempt on the same provider (throttling, 500/503, reset mid-read);
- ``FAILOVER``: the provider is down for us (refused, DNS failure, connect timeout, credentials, the
  bucket missing there), or it refused this one request (reason ``FORBIDDEN``: the next provider is
  asked, but the refusal is an answer for the endpoint's health, see `failover.policy.is_refusal`);
- ``FATAL``: the caller's problem; every provider would answer the same.

Errors stay picklable (they cross process boundaries in tests and in the CLI) and carry
``provider``, ``operation`` and ``key`` where they are known.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

__all__ = [
    "AccessDenied",
    "AllProvidersFailed",
    "ConfigError",
    "Disposition",
    "FailoverError",
    "IntegrityError",
    "InvalidRequest",
    "JournalError",
    "NotFound",
    "OutcomeUnknown",
    "PreconditionFailed",
    "ProviderError",
    "ProviderUnavailable",
    "Reason",
    "StaleReadRisk",
]


class Disposition(enum.Enum):
    """What the resilience engine does after an error."""

    RETRY = "retry"
    FAILOVER = "failover"
    FATAL = "fatal"


class Reason(enum.Enum):
    """Why a provider call failed, as far as the client can tell."""

    REFUSED = "refused"  # nothing listens on the port
    DNS = "dns"  # the endpoint's host name does not resolve
    CONNECT_TIMEOUT = "connect_timeout"
    READ_TIMEOUT = "read_timeout"  # connected, then no answer in time
    RESET = "reset"  # the connection broke mid-call
    SERVER_ERROR = "server_error"  # 5xx
    THROTTLED = "throttled"  # 429, SlowDown, ResourceExhausted
    AUTH = "auth"  # credentials rejected: every call would be
    FORBIDDEN = "forbidden"  # this one request refused by policy (403 on one key): the provider is up
    NO_BUCKET = "no_bucket"  # the bucket, container or queue does not exist on this provider
    OTHER = "other"


class FailoverError(Exception):
    """Base class of every error `failover` raises."""

    disposition: Disposition = Disposition.FATAL

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        operation: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.operation = operation
        self.key = key

    def _kwargs(self) -> dict[str, Any]:
        return {"provider": self.provider, "operation": self.operation, "key": self.key}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._kwargs()))

    def __str__(self) -> str:
        where = ", ".join(
            f"{name}={value!r}"
            for name, value in (
                ("provider", self.provider),
                ("operation", self.operation),
                ("key", self.key),
            )
            if value is not None
        )
        return f"{self._headline()} ({where})" if where else self._headline()

    def _headline(self) -> str:
        return self.message


def _rebuild(cls: type[FailoverError], message: str, kwargs: dict[str, Any]) -> FailoverError:
    return cls(message, **kwargs)


class ConfigError(FailoverError, ValueError):
    """The configuration is invalid, or the extra an adapter needs is not installed."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "field": self.field}


class InvalidRequest(FailoverError, ValueError):
    """The request breaks a rule; raised before any provider is called.

    ``rule`` names the rule (``"key.max_length"``); ``imposed_by`` names the provider or providers
    whose limit the rule keeps.
    """

    def __init__(self, message: str, *, rule: str = "", imposed_by: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.rule = rule
        self.imposed_by = imposed_by

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "rule": self.rule, "imposed_by": self.imposed_by}


class NotFound(FailoverError, LookupError):
    """The object, bucket or queue does not exist."""


class PreconditionFailed(FailoverError):
    """An ``if_match`` or ``if_none_match`` condition was not met."""


class ProviderError(FailoverError):
    """A provider could not serve the call. ``reason`` says why, ``disposition`` what to do."""

    def __init__(
        self,
        message: str,
        *,
        reason: Reason = Reason.OTHER,
        disposition: Disposition | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason
        if disposition is not None:
            self.disposition = disposition

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "reason": self.reason, "disposition": self.disposition}


class ProviderUnavailable(ProviderError):
    """Connect refused, DNS failure, timeout, 5xx or throttling."""

    disposition = Disposition.FAILOVER


class AccessDenied(ProviderError):
    """The provider refused the call.

    ``reason`` says how: `Reason.AUTH`, the credentials were rejected (the provider is down for us,
    its circuit opens); `Reason.FORBIDDEN`, policy refused this one request (S3's 403 on a missing
    key for a caller without ``s3:ListBucket``): the next provider is asked, the circuit stays
    closed, and when every provider refused or lacks the key, the caller gets that answer.
    """

    disposition = Disposition.FAILOVER

    def __init__(self, message: str, *, reason: Reason = Reason.AUTH, **kwargs: Any) -> None:
        super().__init__(message, reason=reason, **kwargs)


class OutcomeUnknown(FailoverError):
    """A write may or may not have happened: the request was sent and no answer came in time."""

    disposition = Disposition.FAILOVER


class StaleReadRisk(FailoverError):
    """Every reachable copy of the key may be older than a write that was acknowledged."""


class IntegrityError(FailoverError):
    """Encrypted data failed its authentication: a wrong or unknown key, a tampered byte, a truncated,
    reordered or spliced object. ``key_id`` names the master key, ``check`` what failed.

    FATAL: every copy was encrypted once and replicated, so another provider holds the same bytes and a
    retry reads the same bytes again; neither is tried. No plaintext of a failed segment is returned.
    """

    def __init__(self, message: str, *, key_id: str | None = None, check: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.key_id = key_id
        self.check = check

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "key_id": self.key_id, "check": self.check}

    def _headline(self) -> str:
        details = [f"key id {self.key_id!r}"] if self.key_id is not None else []
        details += [self.check] if self.check else []
        return f"{self.message} [{'; '.join(details)}]" if details else self.message


class AllProvidersFailed(FailoverError):
    """Every candidate provider failed; ``errors`` holds each provider's error, in call order."""

    def __init__(self, message: str, *, errors: Sequence[FailoverError] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.errors = tuple(errors)

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "errors": self.errors}

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines.extend(f"  {error.provider or '?'}: {error}" for error in self.errors)
        return "\n".join(lines)


class JournalError(FailoverError):
    """The journal (or the dedup window) could not be read or written: another process held its lock
    past the call's deadline, the disk is full, the file is corrupt. ``__cause__`` is SQLite's error.

    FATAL for the engine: no other provider would help, every store shares the one journal. A write
    that raises it before any store was called did not happen; one that raises it after a store took
    the write left that write's intent in the journal, and replication settles it (the caller should
    treat the write as of unknown outcome).
    """

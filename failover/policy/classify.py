"""What the engine does after an error: retry here, fail over, or give the caller the answer.

Adapters translate their SDK's exceptions into the failover error tree at their own edge (a table per
adapter, in ``adapters/<cloud>/_errors.py``) and set each error's ``disposition`` there. This module
reads the translated errors; it knows no SDK. Two tables decide:

- errors whose answer is the same from every provider are FATAL whatever they carry;
- provider errors and ambiguous writes carry the disposition their adapter gave them.

Anything else, a foreign exception or a bug of ours, is FATAL: failing over on our own bug would only
spread it to every provider.
"""

from __future__ import annotations

from typing import Final

from failover.errors import (
    AllProvidersFailed,
    ConfigError,
    Disposition,
    FailoverError,
    IntegrityError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    ProviderError,
    Reason,
    StaleReadRisk,
)

__all__ = ["classify", "is_refusal", "is_timeout", "opens_circuit_at_once"]

# The caller's problem: every provider would answer the same.
_FIXED: Final[dict[type[BaseException], Disposition]] = {
    NotFound: Disposition.FATAL,
    PreconditionFailed: Disposition.FATAL,
    InvalidRequest: Disposition.FATAL,
    ConfigError: Disposition.FATAL,
    StaleReadRisk: Disposition.FATAL,
    # Every copy holds the same ciphertext (encrypted once, then replicated): no provider answers better.
    IntegrityError: Disposition.FATAL,
    # A nested failover store (a FailoverStorage inside another) that found every provider down is
    # itself down for the outer one; a FATAL answer from it would have been raised as such.
    AllProvidersFailed: Disposition.FAILOVER,
}
# Errors whose disposition the adapter's table chose, per error.
_CARRIES_DISPOSITION: Final[tuple[type[FailoverError], ...]] = (ProviderError, OutcomeUnknown)

# Reasons that mean "nobody is there" (or nothing to serve from): no point in waiting for a count of failures.
_OPEN_AT_ONCE: Final[frozenset[Reason]] = frozenset({Reason.REFUSED, Reason.DNS, Reason.AUTH, Reason.NO_BUCKET})
_TIMEOUTS: Final[frozenset[Reason]] = frozenset({Reason.CONNECT_TIMEOUT, Reason.READ_TIMEOUT})

# Per exception type: a fixed disposition, or None for "read the error's own".
_by_type: dict[type[BaseException], Disposition | None] = {}


def _rule_for(cls: type[BaseException]) -> Disposition | None:
    for base in cls.__mro__:
        fixed = _FIXED.get(base)
        if fixed is not None:
            return fixed
        if base in _CARRIES_DISPOSITION:
            return None
    return Disposition.FATAL


def classify(error: BaseException) -> Disposition:
    """RETRY, FAILOVER or FATAL for ``error``; see the module docstring for the rules."""
    cls = type(error)
    try:
        rule = _by_type[cls]
    except KeyError:
        rule = _by_type.setdefault(cls, _rule_for(cls))
    if rule is not None:
        return rule
    disposition: Disposition = getattr(error, "disposition", Disposition.FATAL)
    return disposition


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` is one request refused by policy (a 403 on one key): the provider answered.

    Such an error fails over like a FAILOVER one (another provider may hold the key or allow the
    call), but for the endpoint's health it is an answer: it neither opens the circuit nor counts
    as a failure, and a probe that meets one found the endpoint up.
    """
    return isinstance(error, ProviderError) and error.reason is Reason.FORBIDDEN


def opens_circuit_at_once(error: BaseException) -> bool:
    """Whether ``error`` alone proves the endpoint down: refused, DNS failure, credentials rejected,
    the bucket missing there."""
    return isinstance(error, ProviderError) and error.reason in _OPEN_AT_ONCE


def is_timeout(error: BaseException) -> bool:
    """Whether ``error`` is a timeout: a connect or read timeout, or a write whose outcome is unknown."""
    if isinstance(error, OutcomeUnknown):
        return True
    return isinstance(error, ProviderError) and error.reason in _TIMEOUTS

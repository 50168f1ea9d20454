"""Classification: which errors are retried, which fail over, which are the caller's answer."""

from __future__ import annotations

import pytest

from failover.errors import (
    AccessDenied,
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
    ProviderUnavailable,
    Reason,
    StaleReadRisk,
)
from failover.policy.classify import classify, is_timeout, opens_circuit_at_once


@pytest.mark.parametrize(
    "error",
    [
        NotFound("no such key"),
        PreconditionFailed("etag differs"),
        InvalidRequest("bad key"),
        ConfigError("missing extra"),
        StaleReadRisk("only a stale copy"),
        IntegrityError("a segment failed authentication"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_answers_every_provider_would_give_are_fatal(error: FailoverError) -> None:
    assert classify(error) is Disposition.FATAL


def test_fatal_table_wins_over_a_disposition_an_error_carries() -> None:
    error = NotFound("gone")
    error.disposition = Disposition.RETRY
    assert classify(error) is Disposition.FATAL


def test_provider_unavailable_fails_over_by_default() -> None:
    assert classify(ProviderUnavailable("refused", reason=Reason.REFUSED)) is Disposition.FAILOVER


def test_provider_error_keeps_the_disposition_its_adapter_set() -> None:
    error = ProviderUnavailable("503", reason=Reason.SERVER_ERROR, disposition=Disposition.RETRY)
    assert classify(error) is Disposition.RETRY


def test_access_denied_fails_over() -> None:
    assert classify(AccessDenied("bad credentials")) is Disposition.FAILOVER


def test_outcome_unknown_fails_over() -> None:
    assert classify(OutcomeUnknown("put timed out after sending")) is Disposition.FAILOVER


def test_subclass_of_a_provider_error_reads_its_own_disposition() -> None:
    class Throttled(ProviderError):
        disposition = Disposition.RETRY

    assert classify(Throttled("slow down", reason=Reason.THROTTLED)) is Disposition.RETRY


def test_all_providers_failed_of_a_nested_failover_store_fails_over() -> None:
    assert classify(AllProvidersFailed("inner store: all down")) is Disposition.FAILOVER


@pytest.mark.parametrize(
    "error",
    [ValueError("bug"), TimeoutError("untranslated"), ConnectionRefusedError(), KeyError("x"), FailoverError("base")],
    ids=lambda error: type(error).__name__,
)
def test_foreign_exceptions_and_bugs_are_fatal(error: BaseException) -> None:
    assert classify(error) is Disposition.FATAL


@pytest.mark.parametrize("reason", [Reason.REFUSED, Reason.DNS, Reason.AUTH])
def test_refused_dns_and_auth_open_the_circuit_at_once(reason: Reason) -> None:
    assert opens_circuit_at_once(ProviderUnavailable("down", reason=reason))


def test_access_denied_opens_the_circuit_at_once() -> None:
    assert opens_circuit_at_once(AccessDenied("bad credentials"))


@pytest.mark.parametrize(
    "reason", [Reason.CONNECT_TIMEOUT, Reason.READ_TIMEOUT, Reason.RESET, Reason.SERVER_ERROR, Reason.THROTTLED]
)
def test_other_reasons_do_not_open_the_circuit_at_once(reason: Reason) -> None:
    assert not opens_circuit_at_once(ProviderUnavailable("flaky", reason=reason))


def test_errors_without_a_reason_do_not_open_the_circuit_at_once() -> None:
    assert not opens_circuit_at_once(OutcomeUnknown("maybe written"))
    assert not opens_circuit_at_once(ConnectionRefusedError())


@pytest.mark.parametrize("reason", [Reason.CONNECT_TIMEOUT, Reason.READ_TIMEOUT])
def test_connect_and_read_timeouts_are_timeouts(reason: Reason) -> None:
    assert is_timeout(ProviderUnavailable("slow", reason=reason, disposition=Disposition.RETRY))


def test_an_ambiguous_write_is_a_timeout() -> None:
    assert is_timeout(OutcomeUnknown("maybe written"))


def test_refusal_and_foreign_timeouts_are_not_timeouts() -> None:
    assert not is_timeout(ProviderUnavailable("refused", reason=Reason.REFUSED))
    assert not is_timeout(TimeoutError("untranslated"))


def test_integrity_error_is_fatal_even_when_it_carries_another_disposition() -> None:
    error = IntegrityError("tampered ciphertext")
    error.disposition = Disposition.FAILOVER
    assert classify(error) is Disposition.FATAL

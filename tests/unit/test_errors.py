"""The error tree: builtin bases, dispositions, readable text, and pickling that keeps every field."""

from __future__ import annotations

import pickle
from typing import Any

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

WHERE: dict[str, Any] = {"provider": "aws", "operation": "put", "key": "a/b"}

EVERY_ERROR = [
    pytest.param(FailoverError("base", **WHERE), id="FailoverError"),
    pytest.param(ConfigError("bad", field="storage.0.bucket", **WHERE), id="ConfigError"),
    pytest.param(InvalidRequest("bad key", rule="key.empty", imposed_by="S3, GCS", **WHERE), id="InvalidRequest"),
    pytest.param(NotFound("gone", **WHERE), id="NotFound"),
    pytest.param(PreconditionFailed("etag", **WHERE), id="PreconditionFailed"),
    pytest.param(ProviderError("5xx", reason=Reason.SERVER_ERROR, **WHERE), id="ProviderError"),
    pytest.param(ProviderError("503", disposition=Disposition.RETRY, **WHERE), id="ProviderError-retry"),
    pytest.param(ProviderUnavailable("refused", reason=Reason.REFUSED, **WHERE), id="ProviderUnavailable"),
    pytest.param(AccessDenied("creds", **WHERE), id="AccessDenied"),
    pytest.param(OutcomeUnknown("timed out", **WHERE), id="OutcomeUnknown"),
    pytest.param(StaleReadRisk("stale", **WHERE), id="StaleReadRisk"),
    pytest.param(IntegrityError("tag mismatch", key_id="k1", check="segment 3", **WHERE), id="IntegrityError"),
    pytest.param(
        AllProvidersFailed("all down", errors=[ProviderUnavailable("dns", provider="aws"), NotFound("x")], **WHERE),
        id="AllProvidersFailed",
    ),
]


@pytest.mark.parametrize("error", EVERY_ERROR)
def test_pickling_round_trips_type_text_and_every_field(error: FailoverError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error), "the text changed across pickling"
    assert vars(error).keys() <= vars(copy).keys(), "a field was lost across pickling"
    for name, value in vars(error).items():
        if name == "errors":
            assert [(type(e), str(e)) for e in getattr(copy, name)] == [(type(e), str(e)) for e in value]
        else:
            assert getattr(copy, name) == value, f"{name} changed across pickling: {getattr(copy, name)!r}"
    assert copy.disposition is error.disposition


@pytest.mark.parametrize(
    ("error_type", "builtin"),
    [(ConfigError, ValueError), (InvalidRequest, ValueError), (NotFound, LookupError)],
)
def test_errors_inherit_the_builtin_callers_already_catch(error_type: type[FailoverError], builtin: type) -> None:
    assert issubclass(error_type, builtin)
    assert issubclass(error_type, FailoverError)


@pytest.mark.parametrize(
    ("error", "disposition"),
    [
        (InvalidRequest("x"), Disposition.FATAL),
        (NotFound("x"), Disposition.FATAL),
        (PreconditionFailed("x"), Disposition.FATAL),
        (ProviderError("x"), Disposition.FATAL),
        (ProviderUnavailable("x"), Disposition.FAILOVER),
        (AccessDenied("x"), Disposition.FAILOVER),
        (OutcomeUnknown("x"), Disposition.FAILOVER),
        (IntegrityError("x"), Disposition.FATAL),
        (ProviderUnavailable("throttled", reason=Reason.THROTTLED, disposition=Disposition.RETRY), Disposition.RETRY),
    ],
)
def test_each_error_carries_its_disposition(error: FailoverError, disposition: Disposition) -> None:
    assert error.disposition is disposition


def test_an_overridden_disposition_does_not_leak_to_the_class() -> None:
    ProviderUnavailable("x", disposition=Disposition.RETRY)
    assert ProviderUnavailable("y").disposition is Disposition.FAILOVER


def test_access_denied_reason_defaults_to_auth() -> None:
    assert AccessDenied("no").reason is Reason.AUTH
    assert ProviderError("no").reason is Reason.OTHER


def test_text_names_provider_operation_and_key_when_known() -> None:
    assert str(NotFound("no such key", **WHERE)) == "no such key (provider='aws', operation='put', key='a/b')"
    assert str(NotFound("no such key")) == "no such key"


def test_all_providers_failed_lists_each_provider_error() -> None:
    error = AllProvidersFailed(
        "every store failed", errors=[ProviderUnavailable("refused", provider="aws"), NotFound("gone")]
    )
    assert str(error).splitlines() == ["every store failed", "  aws: refused (provider='aws')", "  ?: gone"]
    assert isinstance(error.errors, tuple)


def test_integrity_error_text_names_the_key_and_the_failed_check() -> None:
    error = IntegrityError("authentication failed", key_id="2026-q4", check="segment 3 of 9", key="a/b")
    assert str(error) == "authentication failed [key id '2026-q4'; segment 3 of 9] (key='a/b')"

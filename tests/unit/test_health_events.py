"""Health events and the health store."""

from __future__ import annotations

import logging

import pytest

from failover.errors import ProviderUnavailable, Reason
from failover.health.events import HealthEvents
from failover.health.store import HealthRecord, HealthState, HealthStore, InMemoryHealthStore


def test_a_listener_that_raises_is_logged_and_the_others_still_hear(caplog: pytest.LogCaptureFixture) -> None:
    events = HealthEvents()
    heard: list[str] = []

    def broken(*args: object) -> None:
        raise RuntimeError("metrics hook bug")

    events.on_state_change.extend([broken, lambda endpoint, *rest: heard.append(endpoint)])
    with caplog.at_level(logging.ERROR, logger="failover.health"):
        events.state_changed("aws:s3:a", HealthState.HEALTHY, HealthState.DOWN, "dns")
    assert heard == ["aws:s3:a"]
    assert "listener" in caplog.text


def test_going_down_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="failover.health"):
        HealthEvents().state_changed("aws:s3:a", HealthState.HEALTHY, HealthState.DOWN, "refused")
    assert [record.levelno for record in caplog.records] == [logging.WARNING]


def test_coming_back_is_logged_as_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="failover.health"):
        HealthEvents().state_changed("aws:s3:a", HealthState.PROBING, HealthState.HEALTHY, "3 trials")
    assert [record.levelno for record in caplog.records] == [logging.INFO]


def test_failovers_are_not_logged_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="failover.health"):
        HealthEvents().failed_over("a", "b", "put", ProviderUnavailable("x", reason=Reason.DNS))
    assert caplog.records == []


def test_a_failover_listener_that_raises_does_not_propagate() -> None:
    events = HealthEvents()

    def broken(*args: object) -> None:
        raise RuntimeError("bug")

    events.on_failover.append(broken)
    events.failed_over("a", None, "get", ProviderUnavailable("x", reason=Reason.DNS))


def test_the_store_has_no_record_for_an_endpoint_never_set() -> None:
    assert InMemoryHealthStore().get("aws:s3:a") is None


def test_the_store_returns_the_record_last_set() -> None:
    store = InMemoryHealthStore()
    record = HealthRecord(HealthState.DOWN, "dns", since=5.0, opened=1)
    store.set("aws:s3:a", record)
    assert store.get("aws:s3:a") == record


def test_the_in_memory_store_fits_the_protocol() -> None:
    assert isinstance(InMemoryHealthStore(), HealthStore)

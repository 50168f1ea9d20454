"""The attempt timeout: each endpoint's configured ``read_timeout`` unless the engine names one.

DESIGN section 13: ``timeout=`` on a public call is the whole call's deadline; each attempt inside it
gets ``min(attempt timeout, time left)``, and the attempt timeout defaults to the endpoint's own
``read_timeout``, so that one vocabulary of time serves the file and the code.
"""

from __future__ import annotations

import pytest

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.config import GcsConfig, S3Config
from failover.engine import Engine, EngineSettings
from failover.interfaces import ObjectStore
from failover.testing.faulty import FaultyStore

SETTINGS = EngineSettings(start_probers=False)


class _Configured(MemoryStore):
    """A memory store that says, as the cloud adapters do, how long its reads may wait."""

    def __init__(self, name: str, read_timeout: float) -> None:
        super().__init__(name)
        self.read_timeout = read_timeout


def _timeouts(engine: Engine[ObjectStore], *names: str, timeout: float | None = None) -> list[float]:
    seen: list[float] = []
    for name in names:
        engine.call_on(name, "head", lambda store, attempt: seen.append(attempt), timeout=timeout)
    return seen


def _engine(stores: list[ObjectStore], settings: EngineSettings = SETTINGS) -> Engine[ObjectStore]:
    return Engine(
        stores, name_of=lambda store: store.name, probe=lambda s, t: None, settings=settings, clock=ManualClock()
    )


def test_each_attempt_defaults_to_its_endpoints_read_timeout() -> None:
    engine = _engine([_Configured("slow", 4.0), _Configured("fast", 0.5)])
    try:
        assert _timeouts(engine, "slow", "fast") == [4.0, 0.5]
    finally:
        engine.close()


def test_an_engine_attempt_timeout_overrides_every_endpoints_read_timeout() -> None:
    settings = EngineSettings(start_probers=False, attempt_timeout=2.0)
    engine = _engine([_Configured("slow", 4.0), _Configured("fast", 0.5)], settings)
    try:
        assert _timeouts(engine, "slow", "fast") == [2.0, 2.0]
    finally:
        engine.close()


def test_an_attempt_never_gets_more_than_the_calls_deadline() -> None:
    engine = _engine([_Configured("slow", 4.0)])
    try:
        assert _timeouts(engine, "slow", timeout=1.0) == [pytest.approx(1.0)]
    finally:
        engine.close()


def test_an_endpoint_without_a_read_timeout_gets_what_the_deadline_leaves() -> None:
    engine = _engine([MemoryStore("plain")], EngineSettings(start_probers=False, deadline=7.0))
    try:
        assert _timeouts(engine, "plain") == [pytest.approx(7.0)]
    finally:
        engine.close()


def test_a_faulty_wrapper_keeps_the_read_timeout_of_the_store_it_wraps() -> None:
    engine = _engine([FaultyStore(_Configured("wrapped", 1.5))])
    try:
        assert _timeouts(engine, "wrapped") == [1.5]
    finally:
        engine.close()


@pytest.mark.parametrize("model", [S3Config, GcsConfig])
def test_an_endpoints_default_read_timeout_leaves_the_default_deadline_time_to_fail_over(
    model: type[S3Config] | type[GcsConfig],
) -> None:
    read_timeout = model.model_fields["read_timeout"].default
    assert read_timeout * 3 <= EngineSettings().deadline, "a hung provider must leave time to fail over"

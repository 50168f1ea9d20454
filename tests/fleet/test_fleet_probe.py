"""Engines sharing a fleet's health store probe a DOWN endpoint once for the fleet, under a lease."""

from __future__ import annotations

import time
from collections.abc import Callable

from failover.adapters.memory import MemoryStore
from failover.engine import Engine, EngineSettings
from failover.fleet import PostgresHealthStore
from failover.health.probes import ProbeBackoff
from failover.health.store import HealthState
from failover.testing.emulators import PostgresServer

NAME = "mem:a"


def _engine(store: PostgresHealthStore, probes: list[str], who: str) -> Engine[MemoryStore]:
    def probe(adapter: MemoryStore, timeout: float) -> object:
        probes.append(who)
        return None

    settings = EngineSettings(start_probers=False, probe_backoff=ProbeBackoff(base=0.01, cap=0.01, jitter=0.0))
    return Engine([MemoryStore(NAME)], name_of=lambda s: s.name, probe=probe, settings=settings, health_store=store)


def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


def test_only_one_process_probes_a_down_endpoint_and_its_answer_reaches_the_other(
    open_store: Callable[[], PostgresHealthStore],
) -> None:
    probes: list[str] = []
    one, two = _engine(open_store(), probes, "one"), _engine(open_store(), probes, "two")
    try:
        one.health[NAME].open_circuit("connect refused")
        _until(lambda: two.health[NAME].state is HealthState.DOWN, timeout=5)
        time.sleep(0.02)  # both probes due
        one.probe_now()
        two.probe_now()
        assert probes == ["one"]
        _until(lambda: two.health[NAME].state is HealthState.PROBING, timeout=5)
    finally:
        one.close()
        two.close()


def test_process_probes_for_itself_while_the_database_does_not_answer(
    open_store: Callable[[], PostgresHealthStore], postgres: PostgresServer
) -> None:
    probes: list[str] = []
    one = _engine(open_store(), probes, "one")
    try:
        postgres.stop()
        one.health[NAME].open_circuit("connect refused")
        time.sleep(0.02)
        one.probe_now()
        assert probes == ["one"]
        assert one.health[NAME].state is HealthState.PROBING
    finally:
        one.close()

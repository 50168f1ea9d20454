"""Shared health: one process's circuit reaches the fleet within a second; one process probes."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from failover.fleet import FleetDatabase, PostgresHealthStore, ProbeDeferred, fleet_probe
from failover.health.store import HealthState
from failover.health.tracker import HealthTracker
from failover.testing.contract import ManualWall
from failover.testing.emulators import PostgresServer

ENDPOINT = "s3:orders"


def _until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "the condition did not hold in time"
        time.sleep(0.005)
    return time.monotonic() - started


def test_circuit_opened_in_one_process_stops_every_other_within_a_second(
    open_store: Callable[[], PostgresHealthStore],
) -> None:
    one, two = HealthTracker(ENDPOINT, store=open_store()), HealthTracker(ENDPOINT, store=open_store())
    one.open_circuit("connect refused")
    assert _until(lambda: not two.allow_request(), timeout=5) < 1.0
    assert two.state is HealthState.DOWN


def test_recovery_found_by_one_process_reaches_every_other(open_store: Callable[[], PostgresHealthStore]) -> None:
    one, two = HealthTracker(ENDPOINT, store=open_store()), HealthTracker(ENDPOINT, store=open_store())
    one.open_circuit("connect refused")
    _until(lambda: two.state is HealthState.DOWN, timeout=5)
    one.probe_succeeded(0.01)
    assert _until(lambda: two.state is HealthState.PROBING, timeout=5) < 1.0


def test_process_started_later_learns_the_fleets_view(open_store: Callable[[], PostgresHealthStore]) -> None:
    first = HealthTracker(ENDPOINT, store=open_store())
    first.open_circuit("connect refused")
    _until(lambda: not first.store._unpublished, timeout=5)  # type: ignore[attr-defined]
    later = HealthTracker(ENDPOINT, store=open_store())
    assert later.state is HealthState.DOWN


def test_own_breaker_works_while_the_database_is_paused_and_reaches_the_fleet_after(
    open_store: Callable[[], PostgresHealthStore], postgres: PostgresServer
) -> None:
    one, two = HealthTracker(ENDPOINT, store=open_store()), HealthTracker(ENDPOINT, store=open_store())
    postgres.pause()
    started = time.monotonic()
    one.open_circuit("connect refused")
    assert not one.allow_request()
    assert time.monotonic() - started < 0.05, "opening the circuit waited for the database"
    assert two.allow_request(), "the change reached the other process through a paused database"
    postgres.resume()
    _until(lambda: not two.allow_request(), timeout=10)


def test_one_process_probes_a_down_endpoint_for_the_fleet_until_its_lease_runs_out(db: FleetDatabase) -> None:
    wall = ManualWall()
    one, two = PostgresHealthStore(db, wall=wall), PostgresHealthStore(db, wall=wall)
    probes: list[str] = []
    probe_one = fleet_probe(one, ENDPOINT, lambda timeout: probes.append("one"), lease=10)
    probe_two = fleet_probe(two, ENDPOINT, lambda timeout: probes.append("two"), lease=10)
    probe_one(1.0)
    with pytest.raises(ProbeDeferred):
        probe_two(1.0)
    probe_one(1.0)
    wall.seconds += 10  # the first prober died
    probe_two(1.0)
    assert probes == ["one", "one", "two"]


def test_change_made_right_before_close_still_reaches_the_fleet(
    open_store: Callable[[], PostgresHealthStore], db: FleetDatabase
) -> None:
    watcher = HealthTracker(ENDPOINT, store=open_store())
    leaving = PostgresHealthStore(db).start()
    assert leaving.wait_connected(10)
    HealthTracker(ENDPOINT, store=leaving).open_circuit("connect refused")
    leaving.close()
    _until(lambda: watcher.state is HealthState.DOWN, timeout=5)


def test_every_process_probes_for_itself_when_the_database_refuses_the_lease(db: FleetDatabase) -> None:
    store = PostgresHealthStore(db)
    with db.connection() as conn:
        conn.execute("DROP TABLE health")
    probes: list[str] = []
    fleet_probe(store, ENDPOINT, lambda timeout: probes.append("probed"), lease=10)(1.0)
    assert probes == ["probed"]

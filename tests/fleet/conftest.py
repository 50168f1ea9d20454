"""Fixtures of the fleet tests: one throwaway PostgreSQL server per session, a fresh schema per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover.fleet import FleetConfig, FleetDatabase, PostgresHealthStore, PostgresJournal, SpoolingJournal, migrate
from failover.testing.emulators import PostgresServer


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (fsync off: the tests do not survive power losses).

    A test may stop or pause it (the database failing); `_restore_postgres` brings it back.
    """
    with PostgresServer(log_dir=tmp_path_factory.mktemp("postgres"), settings={"fsync": "off"}) as server:
        server.start()
        yield server


@pytest.fixture(autouse=True)
def _restore_postgres(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "postgres" in request.fixturenames:
        server: PostgresServer = request.getfixturevalue("postgres")
        if server.paused:
            server.resume()
        if not server.running:
            server.start()


@pytest.fixture
def schema() -> str:
    """A fresh schema name, so tests sharing the server never see each other's rows."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fleet_config(postgres: PostgresServer, schema: str) -> FleetConfig:
    """The fleet configuration for a fresh schema, with deadlines short enough for outage tests."""
    return FleetConfig(dsn=postgres.dsn, schema_name=schema, pool_size=4, call_timeout=1.0, retry_after=0.2)


@pytest.fixture
def db(fleet_config: FleetConfig) -> Iterator[FleetDatabase]:
    """A migrated database for a fresh schema."""
    database = FleetDatabase(fleet_config)
    try:
        migrate(database)
        yield database
    finally:
        database.close()


@pytest.fixture
def open_store(db: FleetDatabase) -> Iterator[Callable[[], PostgresHealthStore]]:
    """Each call: another process's health store (its own pool and listener), started and listening."""
    opened: list[tuple[FleetDatabase, PostgresHealthStore]] = []

    def open_store() -> PostgresHealthStore:
        own = FleetDatabase(db.config)
        store = PostgresHealthStore(own).start()
        opened.append((own, store))
        assert store.wait_connected(10), "the health listener did not connect"
        return store

    yield open_store
    for own, store in opened:
        store.close()
        own.close()


@pytest.fixture
def journal(fleet_config: FleetConfig, tmp_path: Path) -> Iterator[SpoolingJournal]:
    """This process's journal in the fleet: PostgreSQL, with a spool for when it does not answer."""
    with SpoolingJournal.open(fleet_config, spool=tmp_path / "spool.sqlite") as opened:
        yield opened


@pytest.fixture
def fleet_view(fleet_config: FleetConfig) -> Iterator[PostgresJournal]:
    """What another process sees in the fleet's journal."""
    db = FleetDatabase(fleet_config)
    yield PostgresJournal(db)
    db.close()

"""The fleet schema: created by the library, versioned, applied once even by processes racing."""

from __future__ import annotations

import threading

import pytest

from failover.errors import ConfigError
from failover.fleet import LATEST_VERSION, FleetConfig, FleetDatabase, migrate


def _version(db: FleetDatabase) -> int:
    with db.connection() as conn:
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    assert row is not None
    return int(row[0])


def test_first_migrate_creates_the_schema_at_the_latest_version(fleet_config: FleetConfig) -> None:
    db = FleetDatabase(fleet_config)
    try:
        assert migrate(db) == LATEST_VERSION
        assert _version(db) == LATEST_VERSION
    finally:
        db.close()


def test_migrate_again_applies_nothing(db: FleetDatabase) -> None:
    assert migrate(db) == 0
    assert _version(db) == LATEST_VERSION


def test_processes_migrating_at_once_apply_each_migration_once(fleet_config: FleetConfig) -> None:
    databases = [FleetDatabase(fleet_config) for _ in range(4)]
    applied: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(databases))

    def run(db: FleetDatabase) -> None:
        start.wait()
        try:
            applied.append(migrate(db))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in databases]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for db in databases:
            db.close()
    assert errors == []
    assert sorted(applied) == [0, 0, 0, LATEST_VERSION]


def test_schema_newer_than_the_library_is_refused(db: FleetDatabase) -> None:
    with db.connection() as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (LATEST_VERSION + 1,))
    with pytest.raises(ConfigError, match="newer than this library"):
        migrate(db)


def test_schema_name_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="schema"):
        FleetConfig.model_validate({"dsn": "postgresql://u@h/d", "schema": "x; DROP TABLE y"})


def test_a_schema_at_version_1_keeps_its_pending_items_through_the_outbox_migration(
    fleet_config: FleetConfig,
) -> None:
    from psycopg import sql

    from failover.fleet import PostgresJournal
    from failover.fleet._sql import MIGRATIONS
    from failover.testing.contract.journal import SHA

    db = FleetDatabase(fleet_config)
    try:
        with db.connection() as conn, conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(db.schema)))
            conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ)")
            for statement in MIGRATIONS[0][1]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (1)")
            conn.execute("SELECT journal_append('k', 'v1', %s, 1, 'a', 'put', '{b,c}', 0)", (SHA,))
        assert migrate(db) == LATEST_VERSION - 1
        journal = PostgresJournal(db)
        assert [(i.key, i.store) for i in journal.pending()] == [("k", "b"), ("k", "c")]
        journal.dead_letter("k", "v1", "b")
        assert journal.backlog() == {"c": 1}
    finally:
        db.close()

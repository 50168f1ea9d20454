"""The fleet's schema, created and upgraded by the library: versioned, idempotent, safe to race.

`migrate` takes a transaction-scoped advisory lock on the schema's name first, so processes starting
at once apply each migration once: the others wait, then find it applied. Each migration runs in that
one transaction with its ``schema_version`` row, so a failed one leaves no half-made schema. A schema
newer than this library knows is refused (an older process must not write a newer layout).
"""

from __future__ import annotations

from failover.errors import ConfigError
from failover.fleet import _sql
from failover.fleet._db import FleetDatabase

__all__ = ["LATEST_VERSION", "migrate"]

LATEST_VERSION = _sql.MIGRATIONS[-1][0]
_MIGRATE_TIMEOUT = 60.0


def migrate(db: FleetDatabase) -> int:
    """Bring the fleet's schema to `LATEST_VERSION`; returns the number of migrations applied."""
    from psycopg import sql

    with db.connection(timeout=_MIGRATE_TIMEOUT) as conn, conn.transaction():
        conn.execute(_sql.MIGRATION_LOCK, {"schema": db.schema})
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(db.schema)))
        conn.execute(_sql.CREATE_VERSION_TABLE)
        row = conn.execute(_sql.CURRENT_VERSION).fetchone()
        current = int(row[0]) if row else 0
        if current > LATEST_VERSION:
            raise ConfigError(
                f"the fleet schema {db.schema!r} is at version {current}, newer than this library's "
                f"{LATEST_VERSION}: upgrade failover in this process"
            )
        applied = 0
        for version, statements in _sql.MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(_sql.RECORD_VERSION, {"version": version})
            applied += 1
    return applied

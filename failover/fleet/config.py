"""The ``[fleet]`` table of the configuration: where the fleet's shared PostgreSQL schema lives.

::

    [fleet]
    dsn = "postgresql://failover@db.internal:5432/app"
    password = "..."            # or FAILOVER__FLEET__PASSWORD
    schema = "failover"
    pool_size = 10

Without a ``[fleet]`` table nothing changes: each process keeps its SQLite journal and dedup window.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["FleetConfig"]


class FleetConfig(BaseModel):
    """One PostgreSQL schema shared by every process of a fleet."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True)

    dsn: str = Field(
        pattern=r"^postgres(ql)?://",
        description="A libpq URI, postgresql://user@host:port/database; keep the password in `password`.",
    )
    password: SecretStr | None = Field(
        default=None, description="The database password (env FAILOVER__FLEET__PASSWORD)."
    )
    schema_name: str = Field(
        default="failover",
        alias="schema",
        pattern=r"^[a-z_][a-z0-9_]{0,47}$",
        description="The schema the library creates and migrates; one per fleet (lower case, digits, _).",
    )
    pool_size: int = Field(default=10, ge=1, le=1000, description="Connections this process keeps open at most.")
    connect_timeout: float = Field(default=2.0, gt=0, le=60, description="Seconds to wait for a pooled connection.")
    call_timeout: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds one database call may take before it counts as failed (a hung server included).",
    )
    lease: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a replicator holds the items it took before another may take them.",
    )
    retry_after: float = Field(
        default=1.0, gt=0, le=600, description="Seconds the database rests after a failure before it is tried again."
    )
    spool: Path | None = Field(
        default=None,
        description="The local SQLite journal that takes entries while the database is down "
        "(default: a file of the state directory named after the schema).",
    )

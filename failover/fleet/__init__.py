"""Fleet mode: many processes share one PostgreSQL schema for the journal, the dedup window and health.

Needs ``failover[postgres]`` (psycopg 3 and psycopg-pool), imported only when a fleet is opened.
"""

from failover.fleet._db import DatabaseUnavailable, FleetDatabase
from failover.fleet._fleet import Fleet
from failover.fleet.config import FleetConfig
from failover.fleet.dedup import PostgresDedupWindow
from failover.fleet.health import PostgresHealthStore, ProbeDeferred, fleet_probe
from failover.fleet.journal import PostgresJournal
from failover.fleet.migrations import LATEST_VERSION, migrate
from failover.fleet.spool import SpoolingJournal

__all__ = [
    "LATEST_VERSION",
    "DatabaseUnavailable",
    "Fleet",
    "FleetConfig",
    "FleetDatabase",
    "PostgresDedupWindow",
    "PostgresHealthStore",
    "PostgresJournal",
    "ProbeDeferred",
    "SpoolingJournal",
    "fleet_probe",
    "migrate",
]

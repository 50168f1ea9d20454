"""Replication between stores: version stamps, the journal (outbox), the replicator, anti-entropy
repair, and the dedup window that gives queue consumers exactly-once processing."""

from failover.policy.bucket import TokenBucket
from failover.replication.copy import CopyOutcome, apply_tombstone, copy_version
from failover.replication.dedup import DedupWindow, SqliteDedupWindow
from failover.replication.intents import settle_intents
from failover.replication.journal import Intent, Journal, JournalItem, Op, SqliteJournal
from failover.replication.repair import RepairAction, RepairConflict, RepairReport, repair
from failover.replication.replicator import Backoff, KeyLock, ProgressCallback, ReplicationStats, Replicator
from failover.replication.stamps import HybridClock, VersionStamp, random_writer_id, version_order

__all__ = [
    "Backoff",
    "CopyOutcome",
    "DedupWindow",
    "HybridClock",
    "Intent",
    "Journal",
    "JournalItem",
    "KeyLock",
    "Op",
    "ProgressCallback",
    "RepairAction",
    "RepairConflict",
    "RepairReport",
    "ReplicationStats",
    "Replicator",
    "SqliteDedupWindow",
    "SqliteJournal",
    "TokenBucket",
    "VersionStamp",
    "apply_tombstone",
    "copy_version",
    "random_writer_id",
    "repair",
    "settle_intents",
    "version_order",
]

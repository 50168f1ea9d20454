"""A replicator process of a fleet, for the multi-process journal tests.

Run as ``python -m tests.fleet.fleet_worker ROOT DSN SCHEMA LEASE [KILL_AT]``: it replicates from
store ``a`` to store ``b`` (`DirStore`s under ROOT, shared by every worker) through the fleet's
PostgreSQL journal, a few items a pass so that workers interleave, until nothing is pending, and prints
``DRAINED`` and the number of items it applied; with
KILL_AT it SIGKILLs itself right after its KILL_AT-th put lands on ``b``, before marking it done.
"""

from __future__ import annotations

import sys
from pathlib import Path

from failover.fleet import FleetConfig, PostgresJournal
from failover.replication.journal import Op
from failover.replication.replicator import Replicator
from failover.replication.stamps import HybridClock
from tests.unit.journal_worker import DELETED, KEYS, ROUNDS, DirStore


def write_all(root: Path, journal: PostgresJournal) -> None:
    """What FailoverStorage in primary mode does: write to ``a``, journal ``b`` as pending, then ack."""
    store, clock = DirStore(root, "a"), HybridClock("writer")
    for round_ in range(ROUNDS):
        for n in range(KEYS):
            key = f"key-{n:02d}"
            version = str(clock.now())
            info = store.put(key, f"{key} round {round_}".encode(), metadata={"failover_version": version})
            journal.append(key, version, info.sha256, info.size, "a", ["b"])
    for key in DELETED:
        version = str(clock.now())
        store.delete(key)
        journal.append(key, version, None, 0, "a", ["b"], Op.DELETE)


def main(root: Path, dsn: str, schema: str, lease: float, kill_at: int | None) -> None:
    config = FleetConfig(dsn=dsn, schema_name=schema, lease=lease, pool_size=2)
    source = DirStore(root, "a")
    target = DirStore(root, "b", put_delay=0.01, kill_at=kill_at)
    with PostgresJournal.open(config) as journal:
        replicator = Replicator({"a": source, "b": target}, journal, batch=3, poll_interval=0.05)
        stats = replicator.drain(timeout=60)
    # What this worker applied itself (superseded: skipped, another worker held or finished the item).
    print("DRAINED", stats.copied + stats.deleted + stats.up_to_date, flush=True)


if __name__ == "__main__":
    main(
        Path(sys.argv[1]),
        sys.argv[2],
        sys.argv[3],
        float(sys.argv[4]),
        int(sys.argv[5]) if len(sys.argv) > 5 else None,
    )

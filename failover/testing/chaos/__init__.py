"""A seeded chaos run: a mixed workload through `FailoverStorage` and `FailoverQueue` while providers break.

Writers put, overwrite, delete and read objects and send messages; a consumer in a process of its
own (its own adapters, claim-check storage, journal and dedup window) receives and acks; a nemesis
breaks and heals whole providers (refused, DNS failure, hang, black hole, 503 storm) on a schedule
seeded and counted in operations, and once kills the replicator so that a fresh `FailoverStorage`
recovers from the journal. Every call goes into a history. At the end everything is healed and
drained, every store and queue is read directly, and the checker counts lost writes, stale reads,
lost and duplicated messages, and receives and acks that failed while a queue was healthy::

    from failover.testing.chaos import ChaosConfig, run_chaos
    from failover.testing.emulators import LocalClouds

    with LocalClouds(("aws", "gcs", "azure")) as clouds:
        summary = run_chaos(clouds, ChaosConfig(seed=7, ops=2000))
    assert summary.lost == 0 and summary.stale_reads == 0 and summary.exactly_once

``python scripts/chaos.py --ops 10000 --seed 7`` runs one on local clouds it starts itself.
"""

from failover.testing.chaos._check import QueueVerdict, StorageVerdict, check_queue, check_storage
from failover.testing.chaos._cli import main
from failover.testing.chaos._history import Event, History, Kind, Outcome
from failover.testing.chaos._report import ChaosSummary, Row, StoreRow, render_rich, render_text
from failover.testing.chaos._run import SETTINGS, ChaosConfig, run_chaos
from failover.testing.chaos._schedule import FaultKind, Step, plan
from failover.testing.chaos._workload import Mix

__all__ = [
    "SETTINGS",
    "ChaosConfig",
    "ChaosSummary",
    "Event",
    "FaultKind",
    "History",
    "Kind",
    "Mix",
    "Outcome",
    "QueueVerdict",
    "Row",
    "Step",
    "StorageVerdict",
    "StoreRow",
    "check_queue",
    "check_storage",
    "main",
    "plan",
    "render_rich",
    "render_text",
    "run_chaos",
]

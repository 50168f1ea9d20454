"""Endpoint health: circuit breakers, latency, brownouts, active probes, shared state and events."""

from failover.health.events import FailoverListener, HealthEvents, StateChangeListener
from failover.health.latency import LatencyStats
from failover.health.probes import Probe, ProbeBackoff, Prober
from failover.health.registry import DegradedPolicy, HealthRegistry
from failover.health.store import HealthRecord, HealthState, HealthStore, InMemoryHealthStore
from failover.health.tracker import HealthCounters, HealthPolicy, HealthTracker

__all__ = [
    "DegradedPolicy",
    "FailoverListener",
    "HealthCounters",
    "HealthEvents",
    "HealthPolicy",
    "HealthRecord",
    "HealthRegistry",
    "HealthState",
    "HealthStore",
    "HealthTracker",
    "InMemoryHealthStore",
    "LatencyStats",
    "Probe",
    "ProbeBackoff",
    "Prober",
    "StateChangeListener",
]

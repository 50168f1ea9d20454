"""Where endpoints' health states live: in this process by default, shared by a fleet later.

A `HealthStore` maps an endpoint name to its `HealthRecord`. Trackers read it on every call (so keep
``get`` cheap: the in-process store is one dictionary look-up, without a lock) and write it on each
state change. A store shared between processes (Redis, a later issue) makes a fleet agree on which
provider is down; counters and latency stay per process.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["HealthRecord", "HealthState", "HealthStore", "InMemoryHealthStore"]


class HealthState(enum.Enum):
    """An endpoint's state, as the engine routes by it."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"  # answers, but far slower than its peers (brownout)
    DOWN = "down"  # circuit open: no traffic but the prober's
    PROBING = "probing"  # half-open: a probe succeeded, a few trial calls go through


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """One endpoint's shared state.

    ``since`` is the tracker clock's reading at the change; ``opened`` counts the times the circuit
    opened since the endpoint was last HEALTHY (the prober backs off longer for each).
    """

    state: HealthState
    reason: str = ""
    since: float = 0.0
    opened: int = 0


HEALTHY_RECORD = HealthRecord(HealthState.HEALTHY, "initial")


@runtime_checkable
class HealthStore(Protocol):
    def get(self, endpoint: str) -> HealthRecord | None:
        """The endpoint's record, or None if it has none yet (it is then HEALTHY)."""
        ...

    def set(self, endpoint: str, record: HealthRecord) -> None: ...


class InMemoryHealthStore:
    """The default store: a dictionary in this process."""

    def __init__(self) -> None:
        self._records: dict[str, HealthRecord] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: str) -> HealthRecord | None:
        # One dictionary read is atomic under the GIL; writers replace whole records.
        return self._records.get(endpoint)

    def set(self, endpoint: str, record: HealthRecord) -> None:
        with self._lock:
            self._records[endpoint] = record

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={record.state.value}" for name, record in sorted(self._records.items()))
        return f"InMemoryHealthStore({states})"

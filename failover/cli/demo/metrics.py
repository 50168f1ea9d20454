"""What the demo measures: each endpoint's calls by who made them, health events, the journal backlog.

One `Recorder` per run, shared by every thread: the metered adapters report each call, the health
listeners report state changes and failovers, the workload reports each operation of the
application, and the main loop samples the journal's backlog. Times are seconds since the run began.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from failover.health import HealthState

__all__ = ["BUCKET", "EndpointRecord", "Event", "Recorder", "Role", "current_role"]

BUCKET = 0.25
"""Seconds per slot of the per-endpoint call series (ops/s is the sum of the last second's slots)."""


class Role(enum.Enum):
    """Who made a call to an adapter."""

    APP = "app"  # the application, directly or through FailoverStorage's mirror-write threads
    REPLICATION = "replication"  # the replicator copying journaled versions
    PROBE = "probe"  # a prober asking a DOWN endpoint whether it is back


def current_role() -> Role:
    """The role of the calling thread, from the names `failover` gives its background threads."""
    name = threading.current_thread().name
    if name == "failover-replicator":
        return Role.REPLICATION
    if name.startswith("failover-prober"):
        return Role.PROBE
    return Role.APP


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the demo's log."""

    at: float
    text: str
    style: str = ""  # a rich style for the live view


@dataclass
class EndpointRecord:
    """One endpoint (an adapter inside FailoverStorage or FailoverQueue) as the demo saw it."""

    name: str
    label: str  # what the tables and the plot call it: "S3", "GCS", ...
    kind: str  # "storage" or "queue"
    app_slots: Counter[int] = field(default_factory=Counter)  # slot -> successful application calls
    replication_slots: Counter[int] = field(default_factory=Counter)
    calls: Counter[Role] = field(default_factory=Counter)  # successful calls by role
    failures: list[float] = field(default_factory=list)  # when calls to it failed (any role)
    failovers: int = 0  # calls that left it for the next endpoint (or for none)
    states: list[tuple[float, HealthState]] = field(default_factory=lambda: [(0.0, HealthState.HEALTHY)])

    @property
    def state(self) -> HealthState:
        return self.states[-1][1]

    def first_failure_after(self, at: float) -> float | None:
        return next((when for when in self.failures if when >= at), None)

    def first_state_after(self, state: HealthState, at: float) -> float | None:
        return next((when for when, new in self.states if new is state and when >= at), None)


class Recorder:
    """Thread-safe counters and logs of one demo run."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self.endpoints: dict[str, EndpointRecord] = {}
        self.events: list[Event] = []
        self.operations: Counter[str] = Counter()  # the application's successful operations, by kind
        self.failed: list[str] = []  # the application's failed operations, one line each
        self.backlog: list[tuple[float, dict[str, int]]] = []  # journal samples: (at, store -> pending)

    def begin(self) -> None:
        """Make now time zero: called as the application starts, once the clouds are up."""
        self._started = self._clock()

    def now(self) -> float:
        return self._clock() - self._started

    def add_endpoint(self, name: str, label: str, kind: str) -> None:
        self.endpoints[name] = EndpointRecord(name, label, kind)

    # -- reported by the metered adapters --------------------------------------------------------

    def call(self, endpoint: str, role: Role, ok: bool) -> None:
        record = self.endpoints.get(endpoint)
        if record is None:
            return
        now = self.now()
        with self._lock:
            if not ok:
                record.failures.append(now)
                return
            record.calls[role] += 1
            if role is Role.APP:
                record.app_slots[int(now / BUCKET)] += 1
            elif role is Role.REPLICATION:
                record.replication_slots[int(now / BUCKET)] += 1

    # -- health listeners (the signatures of failover.health's events) ---------------------------

    def state_change(self, endpoint: str, old: HealthState, new: HealthState, reason: str) -> None:
        record = self.endpoints.get(endpoint)
        label = record.label if record is not None else endpoint
        style = "bold red" if new is HealthState.DOWN else "green" if new is HealthState.HEALTHY else "yellow"
        now = self.now()
        with self._lock:
            if record is not None:
                record.states.append((now, new))
            self.events.append(Event(now, f"{label}: {old.value} -> {new.value} ({reason})", style))

    def failover(self, from_endpoint: str, to_endpoint: str | None, operation: str, error: BaseException) -> None:
        record = self.endpoints.get(from_endpoint)
        if record is not None:
            with self._lock:
                record.failovers += 1

    # -- reported by the application and the main loop -------------------------------------------

    def event(self, text: str, style: str = "") -> None:
        now = self.now()
        with self._lock:
            self.events.append(Event(now, text, style))

    def operation(self, kind: str) -> None:
        with self._lock:
            self.operations[kind] += 1

    def operation_failed(self, kind: str, error: str) -> None:
        now = self.now()
        with self._lock:
            self.operations[f"{kind} failed"] += 1
            self.failed.append(f"{now:6.1f} s  {kind}: {error}")
            self.events.append(Event(now, f"FAILED {kind}: {error}", "bold red"))

    def sample_backlog(self, backlog: Mapping[str, int]) -> None:
        now = self.now()
        with self._lock:
            self.backlog.append((now, dict(backlog)))

    # -- read by the views and the summary --------------------------------------------------------

    @property
    def total_operations(self) -> int:
        with self._lock:
            return sum(self.operations.values())

    def rate(self, endpoint: str, role: Role = Role.APP, *, span: float = 1.0) -> float:
        """Successful calls a second over the last ``span`` seconds of whole slots."""
        record = self.endpoints[endpoint]
        slots = record.app_slots if role is Role.APP else record.replication_slots
        last = int(self.now() / BUCKET)  # the slot being filled: left out, it is not over
        count = max(1, round(span / BUCKET))
        with self._lock:
            return sum(slots.get(slot, 0) for slot in range(last - count, last)) / (count * BUCKET)

    def latest_backlog(self) -> dict[str, int]:
        with self._lock:
            return dict(self.backlog[-1][1]) if self.backlog else {}

    def events_since(self, index: int) -> list[Event]:
        with self._lock:
            return self.events[index:]

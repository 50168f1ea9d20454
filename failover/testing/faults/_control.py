"""What the proxy's threads share: the current fault, the counters, and a wait that a switch ends."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from failover.testing.faults._fault import Delay, Fault, HttpStatus, Pass

__all__ = ["Control", "ProxyStats"]


@dataclass(frozen=True)
class ProxyStats:
    """What went through a `FaultProxy` since it started (or since `FaultProxy.reset_stats`).

    ``faults_by_kind`` counts each time a fault acted, by `Fault.kind`: ``delay`` a request (or raw
    chunk) held, ``http_status`` a request answered by the proxy, ``reset`` a connection reset,
    ``bandwidth`` a response chunk paced, ``blackhole`` a connection swallowed, ``stall`` a chunk
    held, ``refuse`` an open connection cut when the listener closed.
    """

    connections_accepted: int = 0
    requests_seen: int = 0  # HTTP requests read from clients, answered by the proxy or not
    requests_forwarded: int = 0  # HTTP requests that reached the upstream
    bytes_to_upstream: int = 0
    bytes_to_client: int = 0
    bytes_discarded: int = 0  # swallowed by a black hole
    upstream_failures: int = 0  # connects to the upstream that failed
    faults_by_kind: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def faults_applied(self) -> int:
        """How many times any fault acted."""
        return sum(self.faults_by_kind.values())


_COUNTERS = tuple(name for name in ProxyStats.__dataclass_fields__ if name != "faults_by_kind")


class Control:
    """The switch every connection thread reads, under one condition variable."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.fault: Fault = Pass()
        self.generation = 0  # bumped by every set(), so a wait knows the fault changed
        self.stopping = False
        self._rng = random.Random(0)
        self._answered = 0
        self._counts: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._threads: list[threading.Thread] = []

    def set(self, fault: Fault) -> int:
        with self.cond:
            self.fault = fault
            self.generation += 1
            if isinstance(fault, HttpStatus | Delay):
                self._rng = random.Random(fault.seed)
                self._answered = 0
            self.cond.notify_all()
            return self.generation

    def current(self) -> tuple[Fault, int]:
        with self.cond:
            return self.fault, self.generation

    def draw(self, fault: HttpStatus | Delay) -> bool:
        """Whether this request gets the fault: one draw per request, in arrival order."""
        with self.cond:
            if fault is not self.fault:
                return False
            if isinstance(fault, Delay):
                return fault.fraction >= 1.0 or self._rng.random() < fault.fraction
            if fault.times is not None and self._answered >= fault.times:
                return False
            hit = self._rng.random() < fault.fraction
            self._answered += hit
            return hit

    def count(self, name: str, amount: int = 1) -> None:
        with self.cond:
            self._counts[name] += amount

    def count_fault(self, kind: str) -> None:
        with self.cond:
            self._faults[kind] += 1

    def stats(self) -> ProxyStats:
        with self.cond:
            counts = {name: self._counts[name] for name in _COUNTERS}
            return ProxyStats(**counts, faults_by_kind=MappingProxyType(dict(self._faults)))

    def reset_stats(self) -> None:
        with self.cond:
            self._counts.clear()
            self._faults.clear()

    def wait(self, seconds: float | None, generation: int, cancelled: Callable[[], bool]) -> None:
        """Sleep up to ``seconds`` (None: without end); a new fault, a stop or ``cancelled()`` ends it early."""
        deadline = None if seconds is None else time.monotonic() + seconds
        with self.cond:
            while not self.stopping and self.generation == generation and not cancelled():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self.cond.wait(remaining)

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def spawn(self, target: Callable[[], None], name: str) -> bool:
        """Start a thread the proxy will join at stop; False (and nothing started) once stopping."""
        with self.cond:
            if self.stopping:
                return False
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
            return True

    def threads(self) -> list[threading.Thread]:
        with self.cond:
            return list(self._threads)

"""The rig the FailoverQueue unit tests share: two memory queues behind FaultyQueues, on a manual clock.

Probers do not run on threads: a test moves the clock past the probe's backoff and calls
`Rig.probe`, so every call the queues see is one the test made happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from failover.adapters.memory import MemoryQueue
from failover.clock import ManualClock
from failover.engine import EngineSettings
from failover.health import HealthState
from failover.interfaces import Message, QueueCapabilities
from failover.queue import FailoverQueue
from failover.testing.faulty_queue import FaultyQueue

SETTINGS = EngineSettings(start_probers=False, attempt_timeout=1.0)
PROBE_BACKOFF = 0.5  # the prober's first wait after the circuit opens (ProbeBackoff's base)


@dataclass
class Rig:
    capabilities: QueueCapabilities | None = None
    options: dict[str, Any] = field(default_factory=dict)
    clock: ManualClock = field(default_factory=ManualClock)

    def __post_init__(self) -> None:
        self.primary = FaultyQueue(MemoryQueue("primary", clock=self.clock, capabilities=self.capabilities))
        self.secondary = FaultyQueue(MemoryQueue("secondary", clock=self.clock, capabilities=self.capabilities))
        self.queue = FailoverQueue([self.primary, self.secondary], settings=SETTINGS, clock=self.clock, **self.options)

    def state(self, name: str) -> HealthState:
        return self.queue.engine.health[name].state

    def probe(self) -> None:
        """Run the probes a DOWN queue is due (after its backoff)."""
        self.clock.advance(PROBE_BACKOFF * 2)
        self.queue.engine.probe_now()

    def recover(self, faulty: FaultyQueue) -> None:
        """Heal ``faulty`` and bring it back to HEALTHY through its probe and trial calls."""
        faulty.heal()
        self.probe()
        for _ in range(3):  # the trial calls that close the circuit (HealthPolicy.close_after)
            if self.state(faulty.name) is HealthState.HEALTHY:
                break
            self.queue.engine.call_on(faulty.name, "receive", lambda queue, timeout: queue.receive(1, visibility=0))
        assert self.state(faulty.name) is HealthState.HEALTHY, f"{faulty.name} did not recover"

    def held(self, faulty: FaultyQueue) -> list[Message]:
        """What the inner queue holds now (visible), taken with visibility 0 so it stays there."""
        return faulty.inner.receive(10, visibility=0)

    def close(self) -> None:
        self.queue.close()


def bodies(messages: Sequence[Message]) -> list[bytes]:
    return sorted(message.body for message in messages)

"""The rig the FailoverStorage unit tests share: faulty memory stores on a manual clock.

No probe threads and no background replicator: a test drives probes (`Rig.probe`) and replication
(`Rig.storage.drain`) itself, so nothing happens between two lines that the test did not ask for.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.engine import EngineSettings
from failover.errors import NotFound
from failover.health import HealthState, ProbeBackoff
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore

SETTINGS = EngineSettings(start_probers=False, retry_base=0.0, probe_backoff=ProbeBackoff(base=1.0, jitter=0.0))


class Rig:
    """``aws``, ``gcp`` (and ``azure`` when asked) as `FaultyStore`s over `MemoryStore`s, one storage."""

    def __init__(self, names: tuple[str, ...] = ("aws", "gcp"), *, settings: EngineSettings = SETTINGS, **options: Any):
        self.clock = ManualClock()
        self.stores = {name: FaultyStore(MemoryStore(name), clock=self.clock) for name in names}
        self.storage = FailoverStorage(
            list(self.stores.values()), settings=settings, clock=self.clock, replicate=False, **options
        )

    @property
    def aws(self) -> FaultyStore:
        return self.stores["aws"]

    @property
    def gcp(self) -> FaultyStore:
        return self.stores["gcp"]

    @property
    def azure(self) -> FaultyStore:
        return self.stores["azure"]

    def state(self, name: str) -> HealthState:
        return self.storage.health[name].state

    def held_by(self, key: str) -> dict[str, str | None]:
        """The version of ``key`` each store holds (None where it is missing), read past the faults."""
        held: dict[str, str | None] = {}
        for name, store in self.stores.items():
            try:
                held[name] = store.inner.head(key).version
            except LookupError:
                held[name] = None
        return held

    def recover(self, name: str) -> None:
        """Heal ``name`` and walk it back to HEALTHY: cool-off, probe, three trial calls."""
        self.stores[name].heal()
        if self.state(name) is HealthState.HEALTHY:
            return
        self.clock.advance(60.0)
        self.storage.engine.probe_now()
        assert self.state(name) is HealthState.PROBING, f"{name} did not answer its probe"
        for _ in range(SETTINGS.health.close_after):  # trial calls; a NotFound is an answer
            with contextlib.suppress(NotFound):
                self.storage.engine.call_on(name, "head", lambda store, timeout: store.head("trial", timeout=timeout))
        assert self.state(name) is HealthState.HEALTHY, f"{name} did not pass its trial calls"

    def close(self) -> None:
        self.storage.close()


def rig(**options: Any) -> Iterator[Rig]:
    made = Rig(**options)
    yield made
    made.close()


class OneWay(io.RawIOBase):
    """A stream that can be read once, front to back, and cannot seek (a socket, a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.reads += 1
        count = min(len(buffer), len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count

"""The chaos run's consumer in a process of its own, as an application's consumer is.

The parent (`ConsumerProcess`) pickles a `ConsumerSpec` into a fresh directory and starts
``python -m failover.testing.chaos._consumer DIR``. The child builds its own adapters from the
configurations, its own claim-check `FailoverStorage` (its own journal) and its own `FailoverQueue`
with its own dedup window, and runs the workload's `Consumer` until the parent creates ``DIR/stop``;
then it drains until it was handed every id the parent lists in ``DIR/drain`` (or enough receives
in a row found nothing), and pickles its result into ``DIR/result``: its events, the monotonic time
each ended (the parent says from them what was broken then), what the adapters delivered before
dedup, and what the dedup window dropped.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from failover.config import QueueConfig, StoreConfig
from failover.engine import EngineSettings
from failover.interfaces import Message, MessageQueue
from failover.queue import FailoverQueue, queue_from_config
from failover.storage import FailoverStorage
from failover.testing.chaos._history import Event, History, Kind, Outcome, Slot
from failover.testing.chaos._workload import Anomalies, Consumer, TappedQueue

__all__ = ["ConsumerProcess", "ConsumerResult", "ConsumerSpec"]

_STOP, _DRAIN, _RESULT, _SPEC = "stop", "drain", "result", "spec"


@dataclass(frozen=True)
class ConsumerSpec:
    stores: tuple[StoreConfig, ...]
    queues: tuple[QueueConfig, ...]
    settings: EngineSettings
    visibility: float
    drain_empty: int  # empty receives in a row before the drain gives up
    key: str | None = None  # the run's master key (base64), when messages are encrypted


@dataclass
class ConsumerResult:
    events: list[Event] = field(default_factory=list)
    started_at: list[float] = field(default_factory=list)  # time.monotonic() when each event began
    ended_at: list[float] = field(default_factory=list)  # time.monotonic() when each event ended
    raw: Counter[str] = field(default_factory=Counter)  # deliveries per failover id, before dedup
    dropped_by_dedup: int = 0
    unexpected: list[str] = field(default_factory=list)


class _TimedHistory(History):
    """A `History` that also notes when each event ended, on the machine's monotonic clock."""

    def __init__(self) -> None:
        super().__init__(0)
        self.started_at: list[float] = []
        self.ended_at: list[float] = []

    def finish(
        self,
        slot: Slot,
        process: str,
        kind: Kind,
        key: str,
        *,
        outcome: Outcome,
        digest: str | None = None,
        version: str | None = None,
        error: BaseException | str | None = None,
    ) -> Event:
        event = super().finish(slot, process, kind, key, outcome=outcome, digest=digest, version=version, error=error)
        with self._cond:
            self.started_at.append(slot.started_at)
            self.ended_at.append(time.monotonic())
        return event


def _consume(directory: Path) -> None:
    spec: ConsumerSpec = pickle.loads((directory / _SPEC).read_bytes())
    from failover.storage._build import build_store

    raw: Counter[str] = Counter()
    lock = threading.Lock()

    def delivered(queue: str, message: Message) -> None:
        with lock:
            raw[message.dedup_id or message.id] += 1

    claims = FailoverStorage(
        [build_store(config) for config in spec.stores], journal=directory / "claims.sqlite", settings=spec.settings
    )
    queue = FailoverQueue(
        [TappedQueue(queue_from_config(config), delivered) for config in spec.queues],
        settings=spec.settings,
        dedup=directory / "dedup.sqlite",
        claim_check=claims,
        drain_interval=1.0,
    )
    history = _TimedHistory()
    anomalies = Anomalies()
    clients: MessageQueue = queue
    if spec.key is not None:
        from failover.crypto import EncryptedQueue, Keyring

        clients = EncryptedQueue(queue, Keyring.from_secrets({"chaos": spec.key}, active="chaos"))
    consumer = Consumer(clients, history, anomalies, visibility=spec.visibility)
    try:
        while not (directory / _STOP).exists():
            consumer.poll()
        while not (directory / _DRAIN).exists():
            time.sleep(0.05)
        expected: set[str] = pickle.loads((directory / _DRAIN).read_bytes())
        empty = 0
        while expected - consumer.handed and empty < spec.drain_empty:
            empty = 0 if consumer.poll(wait=0.5) else empty + 1
        consumer.poll(wait=0.0)  # one more: copies still in flight are dropped (and counted) by the dedup window
        result = ConsumerResult(
            list(history.events()),
            list(history.started_at),
            list(history.ended_at),
            raw,
            queue.counters().duplicates_dropped,
            anomalies.unexpected,
        )
    finally:
        queue.close()
        claims.close()
    (directory / _RESULT).write_bytes(pickle.dumps(result))


class ConsumerProcess:
    """The parent's handle on the consumer process; ``broken_at(t)`` says what was broken at time ``t``."""

    def __init__(self, directory: Path, spec: ConsumerSpec) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _SPEC).write_bytes(pickle.dumps(spec))
        self._log = (directory / "consumer.log").open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "failover.testing.chaos._consumer", str(directory)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        """End the workload phase: the consumer stops polling and waits for `drain`."""
        (self.directory / _STOP).touch()

    def drain(self, expected: set[str], timeout: float = 300.0) -> ConsumerResult:
        """Let it drain until it had every id of ``expected``; its result."""
        (self.directory / _DRAIN).write_bytes(pickle.dumps(expected))
        try:
            code = self._process.wait(timeout)
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            self._log.close()
        if code != 0 or not (self.directory / _RESULT).exists():
            log = (self.directory / "consumer.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the consumer process ended with {code}:\n{log}")
        result: ConsumerResult = pickle.loads((self.directory / _RESULT).read_bytes())
        return result

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._log.close()


def merge(result: ConsumerResult, after: int, broken_at: list[tuple[float, str]]) -> list[Event]:
    """The consumer's events as the parent's: numbered after ``after``; a failure carries every
    provider broken at any moment of the call (a queue was healthy only if it was for all of it)."""
    merged: list[Event] = []
    for event, started, ended in zip(result.events, result.started_at, result.ended_at, strict=True):
        broken = ""
        if event.outcome is not Outcome.OK:
            states: list[str] = []
            for index, (since, what) in enumerate(broken_at):
                until = broken_at[index + 1][0] if index + 1 < len(broken_at) else float("inf")
                if since <= ended and until > started:
                    states.append(what)
            named = sorted({part for what in states for part in what.split(" (", 1)[0].split("+") if part})
            last = states[-1] if states else ""
            broken = "+".join(named) + (f" (at the end: {last or 'nothing'})" if len(states) > 1 else "")
        merged.append(replace(event, start=event.start + after, end=event.end + after, broken=broken))
    return merged


if __name__ == "__main__":
    # Through the module's own name, so that what it pickles names its classes there, not in __main__.
    from failover.testing.chaos import _consumer

    _consumer._consume(Path(sys.argv[1]))

"""One chaos run: build the rig, run the writers, the consumer and the nemesis, heal, drain, check."""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from failover.crypto import EncryptedQueue, EncryptedStorage, Keyring, LocalKey
from failover.engine import Engine, EngineSettings
from failover.errors import FailoverError, NotFound
from failover.health import HealthPolicy, HealthState, ProbeBackoff
from failover.interfaces import MessageQueue, ObjectStore
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage
from failover.storage._writes import Mode
from failover.testing.chaos._check import Held, check_queue, check_storage
from failover.testing.chaos._consumer import ConsumerProcess, ConsumerSpec, merge
from failover.testing.chaos._history import History, Kind, Outcome
from failover.testing.chaos._nemesis import Nemesis
from failover.testing.chaos._report import ChaosSummary, summarize
from failover.testing.chaos._rig import Rig
from failover.testing.chaos._schedule import plan
from failover.testing.chaos._trace import Trace, TracingStore
from failover.testing.chaos._workload import Anomalies, Mix, StorageHandle, Writer
from failover.testing.emulators import LocalClouds

__all__ = ["SETTINGS", "ChaosConfig", "run_chaos"]

SETTINGS = EngineSettings(
    deadline=4.0,
    attempt_timeout=1.0,
    retry_base=0.02,
    retry_cap=0.2,
    probe_timeout=0.5,
    probe_backoff=ProbeBackoff(base=0.1, cap=0.5),
    health=HealthPolicy(consecutive_failures=3),
    background_pause=0.5,
)
"""Short timeouts and quick probes: a broken provider costs a run seconds, not minutes."""

_EVIDENCE = 3  # stale reads and lost keys whose store calls the summary lists


@dataclass(frozen=True)
class ChaosConfig:
    """A chaos run's size and pace. ``ops`` counts the writers' operations (the consumer's come on top)."""

    seed: int = 0
    ops: int = 2000
    writers: int = 3
    keys_per_writer: int = 10
    shared_keys: int = 0  # keys every writer writes (concurrent writes of one key), besides its own
    mix: Mix = field(default_factory=Mix)
    settings: EngineSettings = SETTINGS
    connect_timeout: float = 0.5
    read_timeout: float = 1.0
    visibility: float = 2.0  # seconds a received message stays hidden (SQS takes whole seconds)
    drain_rounds: int = 5  # heal-and-drain rounds before giving up on the journal
    queue_drain_empty: int = 20  # empty receives in a row before giving up on missing messages
    # Writers and the consumer go through EncryptedStorage / EncryptedQueue over the failover wrappers;
    # the final state is read through EncryptedStorage over each store (plaintext sha256, clear stamps).
    encrypt: bool = False
    mode: Mode = "primary"  # the storage under test's write mode (its default quorum in mirror mode)
    overlaps: bool = True  # False: one provider broken at a time, never two


class _Phases:
    """How long each phase of a run took, for the report."""

    def __init__(self) -> None:
        self.done: list[tuple[str, float]] = []
        self._since = time.monotonic()

    def end(self, name: str) -> None:
        now = time.monotonic()
        self.done.append((name, now - self._since))
        self._since = now


class _Timeline:
    """What was broken, and since when (on the machine's monotonic clock, which the consumer process shares)."""

    def __init__(self, history: History, interval: float = 0.02) -> None:
        self._history = history
        self._interval = interval
        self._done = threading.Event()
        self.changes: list[tuple[float, str]] = []

    def run(self) -> None:
        while not self._done.wait(self._interval):
            now, what = time.monotonic(), self._history.broken()
            if not self.changes or self.changes[-1][1] != what:
                self.changes.append((now, what))

    def stop(self) -> None:
        self._done.set()


def _until(condition: Callable[[], bool], rounds: int = 200, pause: float = 0.05) -> bool:
    for _ in range(rounds):
        if condition():
            return True
        time.sleep(pause)
    return condition()


def _none_down(*engines: Engine[ObjectStore] | Engine[MessageQueue]) -> bool:
    return all(engine.health[name].state is not HealthState.DOWN for engine in engines for name in engine.names)


def _broken(rig: Rig, handle: StorageHandle, queue: FailoverQueue) -> str:
    """The providers broken now, and the circuits still open on healed ones (a heal takes a probe to be seen)."""
    broken = rig.describe_broken()
    engines: tuple[Engine[ObjectStore] | Engine[MessageQueue], ...] = (handle.current.engine, queue.engine)
    lagging = [
        ":".join(name.split(":")[:2])
        for engine in engines
        for name in engine.names
        if engine.health[name].state is HealthState.DOWN and name.split(":")[0] not in rig.broken
    ]
    if not lagging:
        return broken
    return f"{broken or 'nothing'} (healed, circuit still open: {','.join(lagging)})"


def _final_state(stores: Sequence[ObjectStore], keys: Sequence[str]) -> dict[str, dict[str, Held]]:
    """What each store holds for each key, read straight from the emulators."""
    final: dict[str, dict[str, Held]] = {}
    for store in stores:
        held: dict[str, Held] = {}
        for key in keys:
            for attempt in range(5):
                try:
                    info = store.head(key)
                except NotFound:
                    held[key] = None
                    break
                except FailoverError:
                    if attempt == 4:
                        raise
                    time.sleep(0.2)
                else:
                    held[key] = (info.version, info.sha256)
                    break
        final[store.name] = held
    return final


def run_chaos(clouds: LocalClouds, config: ChaosConfig, *, workdir: Path | None = None) -> ChaosSummary:
    """Run the workload on ``clouds`` (AWS, GCS and Azure started) under the seeded schedule; check it."""
    phases = _Phases()
    workdir = Path(tempfile.mkdtemp(prefix="failover-chaos-")) if workdir is None else workdir
    run = f"chaos-{config.seed}-{uuid.uuid4().hex[:6]}"
    settings = config.settings
    with Rig(clouds, run, connect_timeout=config.connect_timeout, read_timeout=config.read_timeout) as rig:
        history = History(config.ops, broken=rig.describe_broken)

        trace = Trace(history.tick)

        def build(first: bool) -> FailoverStorage:
            stores = [TracingStore(store, trace, keys=f"{run}/") for store in rig.stores(ensure=first)]
            storage = FailoverStorage(stores, journal=workdir / "journal.sqlite", settings=settings, mode=config.mode)
            storage.replicator.poll_interval = 0.2
            return storage

        key = LocalKey.generate("chaos") if config.encrypt else None
        keys = None if key is None else Keyring([key], active=key.key_id)
        handle = StorageHandle(build, None if keys is None else partial(_encrypted_storage, keys=keys))
        claims = FailoverStorage(rig.stores(), journal=workdir / "claims.sqlite", settings=settings)
        claims.replicator.poll_interval = 0.2
        # The producer's queue: the writers only send; the consumer is another process (`_consumer`).
        queue = FailoverQueue(rig.queues(), settings=settings, claim_check=claims, drain_interval=None)
        history.broken = partial(_broken, rig, handle, queue)
        stores, queues = rig.process_configs()
        spec = ConsumerSpec(
            tuple(stores),
            tuple(queues),
            settings,
            config.visibility,
            config.queue_drain_empty,
            None if key is None else key.export().get_secret_value(),
        )
        consumer = ConsumerProcess(workdir / "consumer", spec)
        try:
            summary = _run(config, rig, history, trace, handle, claims, queue, consumer, phases, keys)
        finally:
            consumer.close()
            queue.close()
            claims.close()
            handle.close()
    return summary


def _run(
    config: ChaosConfig,
    rig: Rig,
    history: History,
    trace: Trace,
    handle: StorageHandle,
    claims: FailoverStorage,
    queue: FailoverQueue,
    consumer: ConsumerProcess,
    phases: _Phases,
    keys: Keyring | None = None,
) -> ChaosSummary:
    anomalies = Anomalies()
    clients: MessageQueue = queue if keys is None else EncryptedQueue(queue, keys)
    shared = [f"{rig.name}/shared/k{k:02d}" for k in range(config.shared_keys)]
    owned = [[f"{rig.name}/w{w}/k{k:02d}" for k in range(config.keys_per_writer)] for w in range(config.writers)]
    keys_of = [keys + shared for keys in owned]
    every_key = [key for keys in owned for key in keys] + shared
    writers = [
        Writer(
            number,
            seed=config.seed,
            run=rig.name,
            keys=keys,
            every_key=every_key,
            history=history,
            storage=handle,
            queue=clients,
            mix=config.mix,
            anomalies=anomalies,
        )
        for number, keys in enumerate(keys_of)
    ]
    nemesis = Nemesis(plan(config.seed, config.ops, overlaps=config.overlaps), rig, handle, history, anomalies)
    timeline = _Timeline(history)
    # Daemons: if the run fails half-way, they must not keep the interpreter alive.
    threads = [threading.Thread(target=writer.run, name=writer.name, daemon=True) for writer in writers]
    threads += [
        threading.Thread(target=nemesis.run, name="nemesis", daemon=True),
        threading.Thread(target=timeline.run, name="timeline", daemon=True),
    ]
    phases.end("setup")
    for thread in threads:
        thread.start()
    for thread in threads[: len(writers)]:
        thread.join()
    nemesis.stop()
    consumer.stop()
    threads[len(writers)].join()

    phases.end("workload")
    rig.heal_all()
    backlog = _drain_journals(config, handle, claims, queue)
    phases.end("journal drain")
    expected = {event.key for event in history.events() if event.kind is Kind.SEND and event.outcome is Outcome.OK}
    consumed = consumer.drain(expected)
    timeline.stop()
    anomalies.unexpected += consumed.unexpected
    phases.end("queue drain")
    direct = rig.direct_stores()
    try:
        final = _final_state(direct if keys is None else [EncryptedStorage(store, keys) for store in direct], every_key)
    finally:
        for store in direct:
            store.close()
    events = [*history.events(), *merge(consumed, history.tick(), timeline.changes)]
    storage = check_storage(events, every_key, final)
    for key, since, until in storage.suspects[:_EVIDENCE]:
        storage.details.append(f"calls on {key} from {since} to {until or 'the end'}:")
        storage.details += [f"  {call}" for call in trace.of(key, since, until)]
    storage.details += anomalies.unexpected[:_EVIDENCE] + anomalies.corrupt[:_EVIDENCE]
    phases.end("check")
    return summarize(
        seed=config.seed,
        operations=config.ops,
        phases=phases.done,
        schedule=nemesis.applied,
        events=events,
        storage=storage,
        queue=check_queue(events, consumed.raw),
        dropped_by_dedup=consumed.dropped_by_dedup,
        corrupt=len(anomalies.corrupt),
        unexpected=len(anomalies.unexpected),
        journal_backlog=backlog,
        restarts=handle.restarts,
    )


def _drain_journals(config: ChaosConfig, handle: StorageHandle, claims: FailoverStorage, queue: FailoverQueue) -> int:
    """Wait for every provider to be back, replicate until the journals are empty; what is left.

    Gives up after ``drain_rounds`` rounds, or two in a row that finished nothing (an item no store
    can ever serve stays in the journal; the summary reports it)."""
    storage = handle.current
    idle = 0
    for _ in range(config.drain_rounds):
        _until(lambda: _none_down(storage.engine, claims.engine, queue.engine))
        done = storage.drain(timeout=10).done
        claims.drain(timeout=5)
        if not storage.journal.backlog():
            break
        idle = 0 if done else idle + 1
        if idle >= 2:
            break
    return sum(storage.journal.backlog().values())


def _encrypted_storage(storage: FailoverStorage, *, keys: Keyring) -> ObjectStore:
    return EncryptedStorage(storage, keys)

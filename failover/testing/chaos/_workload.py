"""The processes of a chaos run: writers (storage ops and sends) and one consumer, recording a history.

Each writer owns its keys (one writer per key, so the order of a key's writes is the writer's
program order) and reads everyone's. Values are unique (the key, the writer's counter, random
bytes), so a value's sha256 names the write it came from. Every call's outcome goes into the
`History`; an exception a call should never raise (not a `FailoverError`) is recorded as
indeterminate and kept in ``unexpected`` for the report.
"""

from __future__ import annotations

import contextlib
import random
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from failover.adapters._messages import body_room
from failover.errors import FailoverError, NotFound
from failover.interfaces import (
    Message,
    MessageId,
    MessageQueue,
    ObjectStore,
    OutgoingMessage,
    QueueCapabilities,
    SendResult,
)
from failover.queue import probe_queue
from failover.storage import FailoverStorage
from failover.testing.chaos._history import History, Kind, Outcome, Slot, classify_failure, digest

__all__ = ["Consumer", "Mix", "StorageHandle", "TappedQueue", "Writer"]


@dataclass(frozen=True, slots=True)
class Mix:
    """The writers' operation mix (shares of each operation) and value sizes in bytes."""

    put: float = 0.40
    delete: float = 0.08
    get: float = 0.30
    send: float = 0.22
    value_size: tuple[int, int] = (16, 256)
    large_sends: float = 0.02  # sends of a body too large for Azure Queue: through the claim-check store
    large_size: int = 96 * 1024


class StorageHandle:
    """The writers' `FailoverStorage`, which `restart` replaces by a fresh one on the same journal.

    The old one's replicator is stopped without a drain (its backlog stays in the journal for the new
    one), operations already on it finish there, and then it is closed.
    """

    def __init__(
        self, build: Callable[[bool], FailoverStorage], view: Callable[[FailoverStorage], ObjectStore] | None = None
    ) -> None:
        self._build = build
        self._view = view  # what the writers see of it (an EncryptedStorage over it with --encrypt)
        self._cond = threading.Condition()
        self._current = build(True)
        self._users: dict[int, int] = {}
        self.restarts: list[int] = []  # the journal backlog each kill left behind

    @property
    def current(self) -> FailoverStorage:
        with self._cond:
            return self._current

    @contextlib.contextmanager
    def use(self) -> Iterator[ObjectStore]:
        with self._cond:
            storage = self._current
            self._users[id(storage)] = self._users.get(id(storage), 0) + 1
        try:
            yield storage if self._view is None else self._view(storage)
        finally:
            with self._cond:
                self._users[id(storage)] -= 1
                self._cond.notify_all()

    def restart(self) -> int:
        """Kill the replicator, start a fresh `FailoverStorage` on the journal; the backlog it found."""
        old = self.current
        old.replicator.stop(timeout=0)  # abrupt: it finishes at most the item in hand
        # A process that dies sends nothing afterwards: its mirror writes still running end before
        # the fresh one writes (else they would land later, as writes of a second process would).
        old.wait_for_writes(timeout=30.0)
        backlog = sum(old.journal.backlog().values())
        fresh = self._build(False)
        with self._cond:
            self._current = fresh
            while self._users.get(id(old), 0) > 0:
                self._cond.wait()
            self._users.pop(id(old), None)
        old.close()
        self.restarts.append(backlog)
        return backlog

    def close(self) -> None:
        self.current.close()


class TappedQueue:
    """A `MessageQueue` that reports every message its inner queue delivers (before any dedup)."""

    def __init__(self, inner: MessageQueue, delivered: Callable[[str, Message], None]) -> None:
        self.inner = inner
        self._delivered = delivered

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def provider(self) -> str:
        return self.inner.provider

    @property
    def capabilities(self) -> QueueCapabilities:
        return self.inner.capabilities

    def body_room(self, attributes: Mapping[str, str]) -> int:
        return body_room(self.inner, attributes)

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        return self.inner.send(body, attributes=attributes, dedup_id=dedup_id, delay=delay, timeout=timeout)

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        return self.inner.send_batch(messages, timeout=timeout)

    def receive(
        self, max_messages: int = 1, *, wait: float = 0.0, visibility: float | None = None, timeout: float | None = None
    ) -> list[Message]:
        messages = self.inner.receive(max_messages, wait=wait, visibility=visibility, timeout=timeout)
        for message in messages:
            self._delivered(self.name, message)
        return messages

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        self.inner.ack(message, timeout=timeout)

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        self.inner.nack(message, delay=delay, timeout=timeout)

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        self.inner.extend(message, visibility, timeout=timeout)

    def probe(self, *, timeout: float | None = None) -> None:
        probe_queue(self.inner, timeout if timeout is not None else 1.0)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Anomalies:
    """What the workload saw that no outcome explains; shared by the processes (append is atomic)."""

    unexpected: list[str] = field(default_factory=list)  # exceptions other than FailoverError
    corrupt: list[str] = field(default_factory=list)  # content whose sha256 is not what it claims


class Writer:
    """One writer thread: puts, deletes and gets on the storage, sends on the queue, until the budget ends."""

    def __init__(
        self,
        number: int,
        *,
        seed: int,
        run: str,
        keys: Sequence[str],
        every_key: Sequence[str],
        history: History,
        storage: StorageHandle,
        queue: MessageQueue,
        mix: Mix,
        anomalies: Anomalies,
    ) -> None:
        self.name = f"writer-{number}"
        self._rng = random.Random(f"failover-chaos-{seed}-{self.name}")
        self._run = run
        self._keys = keys
        self._every_key = every_key
        self._history = history
        self._storage = storage
        self._queue = queue
        self._mix = mix
        self._anomalies = anomalies
        self._count = 0
        self._operations: dict[Kind, Callable[[Slot, str], None]] = {
            Kind.PUT: self._put,
            Kind.DELETE: self._delete,
            Kind.GET: self._get,
            Kind.SEND: self._send,
        }

    def run(self) -> None:
        while (slot := self._history.begin()) is not None:
            kind, key = self._choose()
            try:
                self._operations[kind](slot, key)
            except Exception as exc:  # a bug in the library or here: keep going, report it
                self._anomalies.unexpected.append(f"{self.name} {kind} {key}: {traceback.format_exc()}")
                outcome = Outcome.FAILED if kind is Kind.GET else Outcome.INDETERMINATE
                self._history.finish(slot, self.name, kind, key, outcome=outcome, error=exc)

    def _choose(self) -> tuple[Kind, str]:
        mix, draw = self._mix, self._rng.random()
        if draw < mix.put:
            return Kind.PUT, self._rng.choice(self._keys)
        if draw < mix.put + mix.delete:
            return Kind.DELETE, self._rng.choice(self._keys)
        if draw < mix.put + mix.delete + mix.get:
            return Kind.GET, self._rng.choice(self._every_key)
        self._count += 1
        return Kind.SEND, f"{self._run}-{self.name}-{self._count:06d}"

    def _value(self, label: str, size: int) -> bytes:
        self._count += 1
        return f"{label}#{self.name}#{self._count}#".encode() + self._rng.randbytes(size)

    def _put(self, slot: Slot, key: str) -> None:
        value = self._value(key, self._rng.randint(*self._mix.value_size))
        sha = digest(value)
        with self._storage.use() as storage:
            try:
                info = storage.put(key, value)
            except FailoverError as exc:
                self._history.finish(
                    slot, self.name, Kind.PUT, key, outcome=classify_failure(exc), digest=sha, error=exc
                )
                return
        if info.sha256 != sha:
            self._anomalies.corrupt.append(f"put {key}: acknowledged sha256 {info.sha256}, wrote {sha}")
        self._history.finish(slot, self.name, Kind.PUT, key, outcome=Outcome.OK, digest=sha, version=info.version)

    def _delete(self, slot: Slot, key: str) -> None:
        with self._storage.use() as storage:
            try:
                storage.delete(key)
            except FailoverError as exc:
                self._history.finish(slot, self.name, Kind.DELETE, key, outcome=classify_failure(exc), error=exc)
                return
        self._history.finish(slot, self.name, Kind.DELETE, key, outcome=Outcome.OK)

    def _get(self, slot: Slot, key: str) -> None:
        with self._storage.use() as storage:
            try:
                with storage.get(key) as reader:
                    body = reader.read()
                    info = reader.info
            except NotFound:
                self._history.finish(slot, self.name, Kind.GET, key, outcome=Outcome.OK)
                return
            except FailoverError as exc:  # StaleReadRisk included: a refusal to serve what may be stale
                self._history.finish(slot, self.name, Kind.GET, key, outcome=Outcome.FAILED, error=exc)
                return
        sha = digest(body)
        if info.sha256 != sha:
            self._anomalies.corrupt.append(f"get {key}: read sha256 {sha}, the object says {info.sha256}")
        self._history.finish(slot, self.name, Kind.GET, key, outcome=Outcome.OK, digest=sha, version=info.version)

    def _send(self, slot: Slot, failover_id: str) -> None:
        large = self._rng.random() < self._mix.large_sends
        size = self._mix.large_size if large else self._rng.randint(*self._mix.value_size)
        body = f"{failover_id} ".encode() + self._rng.randbytes(size)
        sha = digest(body)
        try:
            self._queue.send(body, dedup_id=failover_id)
        except FailoverError as exc:
            outcome = classify_failure(exc)
            self._history.finish(slot, self.name, Kind.SEND, failover_id, outcome=outcome, digest=sha, error=exc)
            return
        self._history.finish(slot, self.name, Kind.SEND, failover_id, outcome=Outcome.OK, digest=sha)


class Consumer:
    """Receives (with the dedup window), records each message handed out, and acks it."""

    name = "consumer"

    def __init__(
        self, queue: MessageQueue, history: History, anomalies: Anomalies, *, visibility: float, wait: float = 0.2
    ) -> None:
        self._queue = queue
        self._history = history
        self._anomalies = anomalies
        self._visibility = visibility
        self._wait = wait
        self.stopping = threading.Event()
        self.handed: set[str] = set()  # the failover ids handed out so far

    def run(self) -> None:
        while not self.stopping.is_set():
            self.poll()

    def poll(self, wait: float | None = None) -> int:
        """One receive and the acks of what it gave; how many messages it gave."""
        slot = self._history.start()
        try:
            messages = self._queue.receive(10, wait=self._wait if wait is None else wait, visibility=self._visibility)
        except FailoverError as exc:
            self._history.finish(slot, self.name, Kind.RECEIVE, "", outcome=Outcome.FAILED, error=exc)
            self.stopping.wait(0.05)  # every queue is down: do not spin
            return 0
        except Exception as exc:
            self._anomalies.unexpected.append(f"receive: {traceback.format_exc()}")
            self._history.finish(slot, self.name, Kind.RECEIVE, "", outcome=Outcome.FAILED, error=exc)
            return 0
        if not messages:
            self._history.finish(slot, self.name, Kind.RECEIVE, "", outcome=Outcome.OK)
        for message in messages:
            failover_id = message.dedup_id or f"(no id: {message.id})"
            sha = digest(message.body)
            self.handed.add(failover_id)
            self._history.finish(slot, self.name, Kind.RECEIVE, failover_id, outcome=Outcome.OK, digest=sha)
        for message in messages:
            self._ack(message)
        return len(messages)

    def _ack(self, message: Message) -> None:
        failover_id = message.dedup_id or f"(no id: {message.id})"
        slot = self._history.start()
        try:
            self._queue.ack(message)
        except FailoverError as exc:
            self._history.finish(slot, self.name, Kind.ACK, failover_id, outcome=classify_failure(exc), error=exc)
            return
        except Exception as exc:
            self._anomalies.unexpected.append(f"ack: {traceback.format_exc()}")
            self._history.finish(slot, self.name, Kind.ACK, failover_id, outcome=Outcome.INDETERMINATE, error=exc)
            return
        self._history.finish(slot, self.name, Kind.ACK, failover_id, outcome=Outcome.OK)

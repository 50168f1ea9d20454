"""The demo's application: writers that put and read objects, a producer and a consumer of messages.

Each runs on a thread of its own at a steady pace, through FailoverStorage or FailoverQueue only,
and reports every operation to the `Recorder`: a raised error, or a read that returns bytes other
than the last ones written, is a failed operation. Each writer owns its keys, so it knows what
every read must return, and overwrites some of them, so that versions matter.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from failover.cli.demo.metrics import Recorder
from failover.errors import Disposition, FailoverError
from failover.interfaces import Message, MessageQueue, ObjectStore
from failover.policy import classify

__all__ = ["VISIBILITY", "Acked", "Consumer", "Producer", "Writer"]

OVERWRITE_EVERY = 5  # one put in five writes a new version of a key the writer wrote before
# Seconds a received message stays hidden. The consumer acks at once; a receive cut off by the outage
# may have taken messages whose answer never came, and they show again after this long.
VISIBILITY = 5.0


@dataclass(frozen=True, slots=True)
class Acked:
    """What a put acknowledged: every store must end up with this version and content."""

    version: str | None
    sha256: str


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Paced(threading.Thread):
    """A thread that calls `step` ``rate`` times a second until `stop`."""

    def __init__(self, name: str, recorder: Recorder, rate: float) -> None:
        super().__init__(name=name, daemon=True)
        self.recorder = recorder
        self.interval = 1.0 / rate
        self.stopping = threading.Event()

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stopping.is_set():
            self.step()
            next_at = max(next_at + self.interval, time.monotonic() - self.interval)
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def step(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()


class Writer(_Paced):
    """Puts objects of 256 B to 4 KiB and reads its own back, alternately."""

    def __init__(self, index: int, storage: ObjectStore, recorder: Recorder, rate: float) -> None:
        super().__init__(f"demo-writer-{index}", recorder, rate)
        self.index = index
        self.storage = storage
        self.random = random.Random(index)
        self.acked: dict[str, Acked] = {}
        self._keys: list[str] = []
        self._turn = 0

    def step(self) -> None:
        self._turn += 1
        if self._turn % 2 == 1 or not self._keys:
            self._put()
        else:
            self._read(self.random.choice(self._keys))

    def _put(self) -> None:
        if self._keys and self._turn % (2 * OVERWRITE_EVERY) == 1:
            key = self.random.choice(self._keys)
        else:
            key = f"demo/writer-{self.index}/{len(self._keys):05d}"
        data = self.random.randbytes(self.random.randint(256, 4096))
        try:
            info = self.storage.put(key, data, content_type="application/octet-stream", metadata={"writer": "demo"})
        except Exception as exc:
            # The write may still land (a mirror copy made before the quorum failed): it is not
            # acknowledged, so the check at the end does not ask for it; the key keeps its last ack.
            self.recorder.operation_failed("put", f"{key}: {_describe(exc)}")
            return
        if key not in self.acked:
            self._keys.append(key)
        self.acked[key] = Acked(info.version, hashlib.sha256(data).hexdigest())
        self.recorder.operation("put")

    def _read(self, key: str) -> None:
        try:
            data = self.storage.get_bytes(key)
        except Exception as exc:
            self.recorder.operation_failed("get", f"{key}: {_describe(exc)}")
            return
        if hashlib.sha256(data).hexdigest() != self.acked[key].sha256:
            self.recorder.operation_failed("get", f"{key}: read {len(data)} bytes that are not the last written")
            return
        self.recorder.operation("get")


class Producer(_Paced):
    """Sends one message per step, with a dedup id of its own numbering."""

    def __init__(self, queue: MessageQueue, recorder: Recorder, rate: float) -> None:
        super().__init__("demo-producer", recorder, rate)
        self.queue = queue
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def step(self) -> None:
        dedup_id = f"m-{len(self.sent):06d}"
        try:
            self.queue.send(f"order {len(self.sent)}".encode(), dedup_id=dedup_id)
        except Exception as exc:
            self.recorder.operation_failed("send", f"{dedup_id}: {_describe(exc)}")
            return
        with self._lock:
            self.sent.append(dedup_id)
        self.recorder.operation("send")

    def sent_ids(self) -> set[str]:
        with self._lock:
            return set(self.sent)


class Consumer(threading.Thread):
    """Receives (long-polling) and acks every message, until stopped.

    An ack goes to the queue that delivered the message, and nowhere else: when that provider is cut
    off with the ack in flight, the ack fails. The message is not lost (its queue delivers it again
    once its visibility ends), but a careful consumer does not leave it at that: it keeps the ack and
    sends it again when the provider is back, as this one does (``deferred``, then ``retried``).
    """

    def __init__(self, queue: MessageQueue, recorder: Recorder, *, wait: float = 0.5) -> None:
        super().__init__(name="demo-consumer", daemon=True)
        self.queue = queue
        self.recorder = recorder
        self.wait = wait
        self.received: Counter[str] = Counter()
        self.deferred: list[Message] = []  # acks that failed, to send again
        self.retried = 0  # deferred acks that went through later
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            self._retry_deferred()
            try:
                messages = self.queue.receive(10, wait=self.wait, visibility=VISIBILITY)
            except Exception as exc:
                self.recorder.operation_failed("receive", _describe(exc))
                self.stopping.wait(0.2)
                continue
            self.recorder.operation("receive")
            for message in messages:
                with self._lock:
                    self.received[message.dedup_id or message.id] += 1
                self._ack(message)

    def _ack(self, message: Message, *, again: bool = False) -> bool:
        try:
            self.queue.ack(message)
        except FailoverError as exc:
            if classify(exc) is Disposition.FATAL:
                # The queue no longer knows this receipt: the message went back and comes again.
                self.recorder.event(f"ack of {message.dedup_id} refused ({_describe(exc)}); it will come again")
            else:
                with self._lock:
                    self.deferred.append(message)
                if not again:
                    self.recorder.event(
                        f"ack of {message.dedup_id} deferred: {message.queue} is out of reach", "yellow"
                    )
            return False
        self.recorder.operation("ack")
        return True

    def _retry_deferred(self) -> None:
        with self._lock:
            waiting, self.deferred = self.deferred, []
        for message in waiting:
            if self._ack(message, again=True):
                self.retried += 1
                self.recorder.event(f"deferred ack of {message.dedup_id} went through", "green")

    def finish(self) -> None:
        """After `stop` and `join`: one last try for the deferred acks; those left are failed operations."""
        self._retry_deferred()
        with self._lock:
            left, self.deferred = self.deferred, []
        for message in left:
            self.recorder.operation_failed("ack", f"{message.dedup_id}: still unacknowledged at the end")

    @property
    def pending_acks(self) -> int:
        with self._lock:
            return len(self.deferred)

    def received_ids(self) -> Counter[str]:
        with self._lock:
            return Counter(self.received)

    def stop(self) -> None:
        self.stopping.set()

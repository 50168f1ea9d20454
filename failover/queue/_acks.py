"""Acks that outlive the queue that delivered the message.

An ack goes to the queue that delivered the message. When that queue cannot take it (it is DOWN, the
call failed or its outcome is unknown), the ack is kept pending and retried: by a background thread
every ``interval`` seconds, and at the start of every receive. The caller sees no error. Until the
ack lands, the queue may deliver the message again when its visibility ends; with a dedup window the
copy admitted before is forgotten when its ack is deferred, so that redelivery is dropped (and acked
with its fresh receipt, which settles the message). Without a window, the application gets it again.

A pending ack whose receipt the queue no longer knows (`NotFound`: the message was redelivered and
settled that way, or its retention ended) is done. The claim-check body of the message is deleted
once its ack lands, never before: a redelivery still finds it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from failover.config.sections import DEFAULT_ACK_RETRY_INTERVAL
from failover.engine import Engine
from failover.errors import FailoverError, InvalidRequest, NotFound
from failover.interfaces import Message, MessageQueue

__all__ = ["DEFAULT_ACK_RETRY_INTERVAL", "PendingAcks"]

logger = logging.getLogger("failover.queue")


@dataclass(slots=True)
class _Pending:
    queue: str
    message: Message = field(repr=False)
    done: Callable[[], None]  # what follows the ack (the claim-check body's delete)
    tries: int = 0


def _ack(message: Message, queue: MessageQueue, timeout: float) -> None:
    queue.ack(message, timeout=timeout)


class PendingAcks:
    """Acks kept until their queue takes them. Thread-safe; ``interval`` None: no background thread."""

    def __init__(self, engine: Engine[MessageQueue], interval: float | None = DEFAULT_ACK_RETRY_INTERVAL) -> None:
        self._engine = engine
        self._interval = interval
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def ack(self, queue: str, message: Message, done: Callable[[], None], timeout: float | None) -> bool:
        """Ack ``message`` on ``queue`` now; on a provider failure keep it pending and answer False.

        `InvalidRequest` and `NotFound` (the receipt is stale: the caller's hold on it is gone) raise.
        """
        try:
            self._engine.call_on(queue, "ack", lambda q, t: q.ack(message, timeout=t), timeout=timeout)
        except (InvalidRequest, NotFound):
            raise
        except FailoverError as exc:
            logger.info("ack of %s on %s deferred, retried in the background: %s", message.id, queue, exc)
            with self._lock:
                self._pending.append(_Pending(queue, message, done))
            self._start()
            return False
        done()
        return True

    def retry(self, *, force: bool = False) -> int:
        """Try every pending ack whose queue is available (every one, with ``force``), once; the
        number still pending."""
        with self._lock:
            batch, self._pending = self._pending, []
        keep: list[_Pending] = []
        for item in batch:
            if self._closed.is_set() or not (force or self._engine.is_available(item.queue, background=True)):
                keep.append(item)
                continue
            item.tries += 1
            try:
                self._engine.call_on(item.queue, "ack", partial(_ack, item.message))
            except NotFound:
                logger.info(
                    "pending ack of %s on %s: the receipt is gone (settled by a redelivery)",
                    item.message.id,
                    item.queue,
                )
            except FailoverError as exc:
                logger.debug(
                    "pending ack of %s on %s failed again (%d tries): %s", item.message.id, item.queue, item.tries, exc
                )
                keep.append(item)
                continue
            item.done()
        with self._lock:
            self._pending[:0] = keep
            return len(self._pending)

    def _start(self) -> None:
        if self._interval is None or self._closed.is_set():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="failover-acks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert self._interval is not None
        while not self._closed.wait(self._interval):
            try:
                if self.retry() == 0:
                    with self._lock:
                        if not self._pending:
                            self._thread = None
                            return
            except Exception:  # the thread must outlive a bug in one retry
                logger.exception("retrying pending acks failed")

    def close(self, timeout: float = 1.0) -> None:
        """Stop retrying; acks still pending are logged (their messages come back after their visibility)."""
        self._closed.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            left = len(self._pending)
        if left:
            logger.warning("%d acks still pending at close: those messages will be delivered again", left)

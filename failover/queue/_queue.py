"""`FailoverQueue`: one `MessageQueue` over several, that keeps sending and receiving through an outage."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent import futures
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from failover.adapters._arguments import check_ack, check_batch, check_extend, check_nack, check_receive, check_timeout
from failover.adapters._messages import DEDUP_KEY, prepare_send
from failover.clock import Clock
from failover.config import FailoverConfig, load_config
from failover.config.sections import DEFAULT_DEDUP_TTL, DEFAULT_DRAIN_INTERVAL
from failover.engine import Engine, EngineSettings
from failover.errors import ConfigError, FailoverError, InvalidRequest, NotFound
from failover.fleet import Fleet
from failover.health import FailoverListener, HealthRegistry, HealthStore, StateChangeListener
from failover.interfaces import (
    Message,
    MessageId,
    MessageQueue,
    ObjectStore,
    OutgoingMessage,
    QueueCapabilities,
    SendResult,
)
from failover.policy import DEFAULT_FLOOR, Deadline
from failover.queue._acks import DEFAULT_ACK_RETRY_INTERVAL, PendingAcks
from failover.queue._brownout import PeerSampler
from failover.queue._build import DedupSpec, dedup_window, probe_queue, queue_from_config
from failover.queue._claims import ClaimCheck
from failover.queue._dedup import ReceiveDedup
from failover.queue._drain import DrainSet
from failover.queue._limits import QueueLimits
from failover.queue._receive import DEFAULT_CLAIM_GIVE_UP, QueueCounters, Receipt, Receiver
from failover.queue._send import Outgoing, Sender
from failover.replication.dedup import DedupWindow
from failover.replication.state import default_state_file
from failover.telemetry import instrument_if_enabled

__all__ = ["DEFAULT_DEDUP_TTL", "DEFAULT_DRAIN_INTERVAL", "FailoverQueue"]

logger = logging.getLogger("failover.queue")


QueueProbe = Callable[[MessageQueue, float], object]


class FailoverQueue:
    """A `MessageQueue` over several queues, in order of preference, on one or more providers.

    **Send** goes to the first healthy queue. Every message carries a ``failover_id`` (the caller's
    ``dedup_id``, or a fresh uuid4 hex) as the queues' dedup id, and a send that met `OutcomeUnknown`
    is sent again with the same id (to the next queue, or the same one): delivery is at least once.
    The message's checks are the strictest of all the queues' and run before any queue is called.

    **Receive** drains every queue that may hold messages: the preferred one (long-polled), every
    queue a send reached or may have reached until a receive finds it empty, every queue while the
    first one is DOWN, and every queue once every ``drain_interval`` seconds (what other processes
    sent during their failover). Nothing sent during an outage is stranded. A received message's
    ``queue`` and ``provider`` name the queue that delivered it, and ack, nack and extend go back to
    that queue. Ordering is not kept across queues.

    **Dedup**: with a ``dedup`` window (a `DedupWindow`, or a path for a `SqliteDedupWindow`),
    ``receive`` drops (and acks) a message whose ``failover_id`` was delivered before, so that a
    consumer that acks after processing processes each message once. A redelivery of the copy that
    was handed out (its consumer crashed, its visibility ran out) is handed out again: a crash
    repeats a message, never loses it. ``nack`` releases the id, so whichever copy comes next is
    processed. ``receive(dedup=...)`` turns it on or off per call (default: on when a window is set).

    **Claim-check**: with a ``claim_check`` store, a body larger than the smallest queue takes goes to
    ``failover-claims/<failover_id>`` in the store and the message carries a pointer; ``receive``
    fetches the body and ``ack`` deletes the object. Sender and receiver must both set the store.

    ``close`` closes the queues, the engine, and what this queue opened itself (a dedup window from a
    path, what `from_config` built); a dedup window or claim-check store passed in stays open.
    """

    def __init__(
        self,
        queues: Sequence[MessageQueue],
        *,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        dedup: DedupSpec = None,
        dedup_ttl: float = DEFAULT_DEDUP_TTL,
        claim_check: ObjectStore | None = None,
        drain_interval: float | None = DEFAULT_DRAIN_INTERVAL,
        probe: QueueProbe = probe_queue,
        executor: futures.ThreadPoolExecutor | None = None,
        ack_retry_interval: float | None = DEFAULT_ACK_RETRY_INTERVAL,
        claim_give_up: int = DEFAULT_CLAIM_GIVE_UP,
        health_store: HealthStore | None = None,
    ) -> None:
        queues = tuple(queues)
        if not queues:
            raise ConfigError("a FailoverQueue needs at least one queue", field="queues")
        names = [queue.name for queue in queues]
        if len(set(names)) != len(names):
            raise ConfigError(f"queue names must be unique, not {names}", field="queues")
        if isinstance(claim_give_up, bool) or not isinstance(claim_give_up, int) or claim_give_up < 1:
            raise ConfigError(
                f"claim_give_up is a number of deliveries >= 1, not {claim_give_up!r}", field="claim_give_up"
            )
        if ack_retry_interval is not None and not ack_retry_interval > 0:
            raise ConfigError(
                f"ack_retry_interval is seconds > 0 or None, not {ack_retry_interval!r}", field="ack_retry_interval"
            )
        if drain_interval is not None and not drain_interval > 0:
            raise ConfigError(f"drain_interval is seconds > 0 or None, not {drain_interval!r}", field="drain_interval")
        self._queues = queues
        self._name = "failover:" + "+".join(names)
        self._limits = QueueLimits.of(queues, claim_check)
        self._claims = ClaimCheck(claim_check)
        self._owns_window = isinstance(dedup, str | os.PathLike)  # a window passed in stays the caller's
        self._window = dedup_window(dedup, dedup_ttl)
        try:
            self.engine: Engine[MessageQueue] = Engine(
                queues,
                name_of=_name_of,
                probe=probe,
                settings=settings,
                clock=clock,
                executor=executor,
                health_store=health_store,
            )
        except BaseException:
            if self._owns_window and self._window is not None:
                self._window.close()
            raise
        self._drain = DrainSet(names, self.engine.clock, drain_interval)
        self._acks = PendingAcks(self.engine, ack_retry_interval)
        self._sampler = PeerSampler(self.engine, probe)
        self._sender = Sender(self.engine, self._drain, self._sampler.after_call)
        self._receiver = Receiver(
            self.engine,
            self._drain,
            self._claims,
            ReceiveDedup(self._window) if self._window is not None else None,
            names[0],
            claim_give_up,
        )
        self._owned: list[_Closeable] = []  # what from_config built for this queue, closed with it
        self._closed = False

    @classmethod
    def from_config(
        cls,
        config: FailoverConfig,
        *,
        claim_check: ObjectStore | None = None,
        dedup: DedupWindow | str | os.PathLike[str] | None = None,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
    ) -> FailoverQueue:
        """A `FailoverQueue` over ``config.queues`` (in order) as ``config.queue`` and ``config.engine`` say.

        With ``[queue] dedup = true`` the dedup window is a file under the state directory named
        after the queues; with ``claim_check = true`` large bodies go to a `FailoverStorage` over
        ``config.stores``. ``claim_check``, ``dedup`` and ``settings``, when given, replace the
        configuration's (and stay open on `close`, as the caller's). What this builds from the
        configuration, `close` closes.
        """
        if not config.queues:
            raise ConfigError("the configuration lists no queues ([queues.NAME] tables)", field="queues")
        section = config.queue
        settings = settings if settings is not None else config.queue_engine().build()
        queues: list[MessageQueue] = []
        owned: list[_Closeable] = []
        try:
            for entry in config.queues.values():
                queues.append(queue_from_config(entry))
            fleet: Fleet | None = None
            if config.fleet is not None:
                # The fleet's health (one circuit per endpoint, fleet-wide) and, with dedup = true,
                # its window, shared by every consumer; the queue owns the fleet it opened.
                monotonic = clock.monotonic if clock is not None else time.monotonic
                fleet = Fleet(config.fleet, state_dir=config.state_dir, monotonic=monotonic)
                owned.append(fleet)
            if dedup is None and section.dedup is True and fleet is not None:
                dedup = fleet.dedup_window(section.dedup_ttl)
            elif dedup is None and section.dedup is True:
                dedup = default_state_file("dedup", [q.name for q in queues], directory=config.state_dir)
            elif dedup is None and isinstance(section.dedup, Path):
                dedup = section.dedup  # a path: the window opened from it is closed by `close`
            if claim_check is None and section.claim_check:
                from failover.storage import FailoverStorage  # the storage half is built only when asked for

                claim_check = FailoverStorage.from_config(config)
                owned.append(claim_check)
            queue = cls(
                queues,
                settings=settings,
                clock=clock,
                dedup=dedup,
                dedup_ttl=section.dedup_ttl,
                claim_check=claim_check,
                drain_interval=section.drain_interval,
                ack_retry_interval=section.ack_retry_interval,
                claim_give_up=section.claim_give_up,
                health_store=fleet.health if fleet is not None else None,
            )
        except BaseException:
            for resource in [*queues, *owned]:
                _close_quietly(resource)
            raise
        queue._owned.extend(owned)
        instrument_if_enabled(queue, config.telemetry)
        return queue

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = None,
        claim_check: ObjectStore | None = None,
    ) -> FailoverQueue:
        """`from_config` of `load_config`: the TOML file ``path`` (else ``$FAILOVER_CONFIG``) and ``FAILOVER__*``."""
        return cls.from_config(load_config(path, env_file=env_file), claim_check=claim_check)

    # -- what it is ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return "failover"

    @property
    def capabilities(self) -> QueueCapabilities:
        """The strictest of the queues' (see `QueueLimits`); one attribute fewer, for the failover_id."""
        return self._limits.public

    @property
    def queues(self) -> tuple[MessageQueue, ...]:
        return self._queues

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    @property
    def dedup_window(self) -> DedupWindow | None:
        """The window that drops redeliveries of a message already handed out, if one is set."""
        return self._window

    @property
    def draining(self) -> frozenset[str]:
        """The queues a send reached (or may have) that no receive has found empty since."""
        return self._drain.marked

    def counters(self) -> QueueCounters:
        """Duplicates dropped and claim-check bodies missed by receives, since this queue was made."""
        return self._receiver.counters()

    # -- sending ---------------------------------------------------------------------------------

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        check_timeout(timeout, "send")
        deadline = self._deadline(timeout)
        message = self._prepare(0, body, attributes, dedup_id, delay, deadline)
        try:
            return self._sender.send(message, deadline)
        except FailoverError:
            self._abandon(message)
            raise

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        """One result per message, in order. A bad entry fails alone, before any queue is called; the
        rest go to one queue in batches of ``capabilities.max_batch``, and the entries it failed to the
        next queue."""
        entries = check_batch(messages, timeout)
        deadline = self._deadline(timeout)
        results: dict[int, SendResult] = {}
        ready: list[Outgoing] = []
        count = 0
        for index, entry in enumerate(entries):
            count += 1
            try:
                ready.append(self._prepare(index, entry.body, entry.attributes, entry.dedup_id, entry.delay, deadline))
            except FailoverError as exc:  # invalid, or its claim-check body could not be stored
                results[index] = SendResult(error=exc)
        size = self._limits.public.max_batch
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            results.update(self._sender.send_batch(chunk, deadline))
        for message in ready:
            if not results[message.index].ok:
                self._abandon(message)
        return [results[index] for index in range(count)]

    def _deadline(self, timeout: float | None) -> Deadline:
        return Deadline(timeout if timeout is not None else self.engine.settings.deadline, self.engine.clock)

    def _prepare(
        self,
        index: int,
        body: bytes,
        attributes: Mapping[str, str] | None,
        dedup_id: str | None,
        delay: float,
        deadline: Deadline,
    ) -> Outgoing:
        failover_id = dedup_id if dedup_id is not None else uuid.uuid4().hex
        checked = prepare_send(
            body,
            attributes=attributes,
            dedup_id=failover_id,
            delay=delay,
            capabilities=self._limits.send,
            provider=self._name,
        )
        room = self._limits.room(checked)  # on every queue, beside these attributes and the failover_id
        del checked[DEDUP_KEY]  # each adapter adds it from the dedup id
        payload, key = self._claims.payload(failover_id, bytes(body), room, max(deadline.remaining(), 0.05))
        return Outgoing(index, payload, checked, failover_id, delay, key)

    def _abandon(self, message: Outgoing) -> None:
        """A send failed: its claim-check body goes, unless some queue may hold the message."""
        if message.claim is not None and not message.maybe_sent:
            self._claims.discard(message.claim, None)

    # -- receiving -------------------------------------------------------------------------------

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
        dedup: bool | None = None,
    ) -> list[Message]:
        """Up to ``max_messages`` messages from the queues that may hold some, waiting at most ``wait``.

        ``timeout`` is the call's deadline on top of its ``wait`` (default: the engine's deadline),
        failovers included, each attempt getting at most its endpoint's attempt timeout: the call
        returns within ``wait + timeout``, plus the fetch of claim-checked bodies. ``dedup``:
        drop messages whose failover_id was delivered before (default: when a window is set).
        """
        check_receive(max_messages, wait, visibility, timeout, capabilities=self._limits.public, imposed_by=self._name)
        if dedup is not None and not isinstance(dedup, bool):
            raise InvalidRequest(
                f"dedup is None, True or False, not {dedup!r}", rule="dedup", imposed_by="failover", operation="receive"
            )
        if dedup and self._window is None:
            raise ConfigError("receive(dedup=True) needs a dedup window: FailoverQueue(dedup=...)", field="dedup")
        deduplicate = self._window is not None if dedup is None else dedup
        if len(self._acks):
            self._acks.retry()
        attempt = timeout if timeout is not None else self.engine.settings.deadline
        return self._receiver.receive(max_messages, wait, visibility, attempt, deduplicate)

    def _receipt(self, message: Message, operation: str) -> Receipt:
        receipt = getattr(message, "receipt", None)
        if not isinstance(receipt, Receipt) or receipt.queue not in self.engine.endpoints:
            raise InvalidRequest(
                f"{self._name} takes back only messages it delivered (receipt {receipt!r})",
                rule="receipt",
                imposed_by="failover",
                operation=operation,
            )
        return receipt

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        """Delete the message from the queue that delivered it, then its claim-check body, if any.

        When that queue cannot take the ack (it is down), the ack is kept and retried in the
        background (`pending_acks`), and no error is raised; with a dedup window, a redelivery of the
        message meanwhile is dropped. Raises `NotFound` when the queue no longer knows the receipt."""
        check_ack(message, timeout)
        receipt = self._receipt(message, "ack")
        claim = receipt.claim
        deadline = self._deadline(timeout)  # the ack and the claim-check delete share it
        in_call = True

        def after_ack() -> None:
            if claim is not None:
                # In this call: what the ack left (at least the floor, so the body is not left behind
                # untried); an ack retried in the background later: the store's own deadline.
                self._claims.discard(claim, max(deadline.remaining(), DEFAULT_FLOOR) if in_call else None)

        try:
            self._acks.ack(receipt.queue, receipt.message, after_ack, deadline.seconds)
        finally:
            in_call = False
            # Landed, pending, or refused (a receipt gone stale when the queue delivered the message
            # again), the message was processed: every later copy of it is dropped.
            self._settled(receipt)

    def _settled(self, receipt: Receipt) -> None:
        if not receipt.deduplicated or self._receiver.dedup is None:
            return
        try:
            self._receiver.dedup.settled(receipt.queue, receipt.message)
        except FailoverError as exc:
            logger.warning("could not record message %s as processed in the dedup window: %s", receipt.message.id, exc)

    @property
    def pending_acks(self) -> int:
        """Acks the delivering queue could not take yet, retried in the background."""
        return len(self._acks)

    def drain(self, timeout: float | None = None) -> int:
        """Try every pending ack once, whatever its queue's health, then retry those left until none
        is or ``timeout`` passes (None: one try); the number still pending.

        The queue's counterpart of `FailoverStorage.drain`: what this process owes a queue that was
        down. Messages themselves need no drain: receives take them from every queue.
        """
        check_timeout(timeout, "drain")
        deadline = Deadline(timeout, self.engine.clock) if timeout is not None else None
        left = self._acks.retry(force=True)  # one try on every queue owed an ack, whatever its health
        while left and deadline is not None and not deadline.expired:
            self.engine.clock.sleep(min(0.1, deadline.remaining()))
            left = self._acks.retry()
        return left

    # -- health, as FailoverStorage has it ---------------------------------------------------------

    @property
    def health(self) -> HealthRegistry:
        return self.engine.health

    def on_state_change(self, listener: StateChangeListener) -> StateChangeListener:
        """Call ``listener(queue, old, new, reason)`` on every health state change; returns it."""
        self.engine.health.events.on_state_change.append(listener)
        return listener

    def on_failover(self, listener: FailoverListener) -> FailoverListener:
        """Call ``listener(from_queue, to_queue or None, operation, error)`` on every failover; returns it."""
        self.engine.health.events.on_failover.append(listener)
        return listener

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        """Hand the message back to the queue that delivered it. With dedup, its failover_id is
        released first, so that its redelivery (or another copy) is processed."""
        check_nack(message, delay, timeout, capabilities=self._limits.public, imposed_by=self._name)
        receipt = self._receipt(message, "nack")
        inner = receipt.message
        if receipt.deduplicated and self._receiver.dedup is not None:
            self._receiver.dedup.release(receipt.queue, inner)
        try:
            self.engine.call_on(
                receipt.queue, "nack", lambda queue, t: queue.nack(inner, delay=delay, timeout=t), timeout=timeout
            )
        except (InvalidRequest, NotFound):
            raise
        except FailoverError as exc:
            # The message comes back anyway when its visibility ends: later than asked, not lost.
            logger.info(
                "nack of %s on %s failed; it returns when its visibility ends: %s", inner.id, receipt.queue, exc
            )

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        check_extend(message, visibility, timeout, capabilities=self._limits.public, imposed_by=self._name)
        receipt = self._receipt(message, "extend")
        inner = receipt.message
        self.engine.call_on(
            receipt.queue, "extend", lambda queue, t: queue.extend(inner, visibility, timeout=t), timeout=timeout
        )

    # -- life cycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the probers, close every queue and the dedup window. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._acks.close()
        self._sampler.close()
        self.engine.close()
        for queue in self._queues:
            _close_quietly(queue)
        if self._owns_window and self._window is not None:
            self._window.close()
        for resource in self._owned:
            _close_quietly(resource)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FailoverQueue({list(self.engine.names)!r}, draining={sorted(self.draining)!r})"


def _name_of(queue: MessageQueue) -> str:
    return queue.name


class _Closeable(Protocol):
    @property
    def name(self) -> str: ...

    def close(self) -> None: ...


def _close_quietly(resource: _Closeable) -> None:
    try:
        resource.close()
    except Exception:
        logger.exception("closing %s failed", resource.name)

"""Receiving from every queue that may hold messages, within the caller's wait.

One `receive` first polls, without waiting, each queue the `DrainSet` marks (and every queue while
the preferred one is DOWN, and every queue once per sweep interval), then long-polls the best queue
for what is left of ``wait``. Every call shares one hold deadline, ``wait`` plus one attempt timeout
from the start, so a hung queue costs the caller at most that. The delivered messages are wrapped:
the receipt names the queue that delivered them, so that ack, nack and extend go back to it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from failover.clock import Clock
from failover.engine import Engine
from failover.errors import FailoverError, NotFound
from failover.interfaces import Message, MessageQueue
from failover.policy import DEFAULT_FLOOR
from failover.queue._claims import ClaimCheck
from failover.queue._dedup import ReceiveDedup
from failover.queue._drain import DrainSet

__all__ = ["QueueCounters", "Receipt", "Receiver"]

logger = logging.getLogger("failover.queue")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a `FailoverQueue` message's ``receipt`` holds: the delivering queue and its own message."""

    queue: str
    message: Message = field(repr=False)
    claim: str | None = None  # the claim-check key of the body, deleted on ack
    deduplicated: bool = False  # admitted by the dedup window: a nack releases its id


@dataclass(frozen=True, slots=True)
class QueueCounters:
    """What a `FailoverQueue`'s receives did besides handing messages out (since it was made)."""

    duplicates_dropped: int = 0  # copies of a failover_id already handed out: acked, not returned
    claims_gone: int = 0  # pointers whose claim-check body was deleted (a copy was processed): acked
    claims_unavailable: int = 0  # pointers whose body the store could not serve: left for a later receive


@dataclass(slots=True)
class _Poll:
    """One receive's limits, on the engine's clock."""

    max_messages: int
    visibility: float | None
    attempt: float  # seconds one call may take beyond its wait
    wait_until: float
    hold_until: float
    deduplicate: bool
    found: list[Message] = field(default_factory=list)

    @property
    def room(self) -> int:
        return self.max_messages - len(self.found)


class Receiver:
    """The receive side of one `FailoverQueue`."""

    def __init__(
        self,
        engine: Engine[MessageQueue],
        drain: DrainSet,
        claims: ClaimCheck,
        dedup: ReceiveDedup | None,
        primary: str,
    ) -> None:
        self.engine = engine
        self.drain = drain
        self.claims = claims
        self.dedup = dedup
        self.primary = primary
        self._clock: Clock = engine.clock
        self._turn = 0
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    def counters(self) -> QueueCounters:
        with self._counts_lock:
            return QueueCounters(**self._counts)

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    def receive(
        self, max_messages: int, wait: float, visibility: float | None, attempt: float, deduplicate: bool
    ) -> list[Message]:
        start = self._clock.monotonic()
        poll = _Poll(max_messages, visibility, attempt, start + wait, start + wait + attempt, deduplicate)
        order = self.engine.router.order()
        target = order[0] if order else None
        for name in self._to_drain(target):
            if poll.room <= 0 or not self._time_for_one_more(poll):
                break
            self._drain_one(name, poll)
        if poll.room > 0 and self._time_for_one_more(poll):
            try:
                self._long_poll(poll)
            except FailoverError:
                if not poll.found:
                    raise
                logger.debug("receive from the preferred queue failed; returning what the others gave", exc_info=True)
        return poll.found

    def _time_for_one_more(self, poll: _Poll) -> bool:
        return poll.hold_until - self._clock.monotonic() >= DEFAULT_FLOOR

    def _to_drain(self, target: str | None) -> Sequence[str]:
        """The queues to poll without waiting before the long poll, rotated so that none starves."""
        marked = self.drain.marked
        everything = self.drain.sweep_due() or not self.engine.is_available(self.primary)
        names = [
            name
            for name in self.engine.names
            if name != target and (everything or name in marked) and self.engine.is_available(name)
        ]
        if len(names) > 1:
            self._turn = (self._turn + 1) % len(names)
            names = names[self._turn :] + names[: self._turn]
        return names

    def _drain_one(self, name: str, poll: _Poll) -> None:
        room, visibility = poll.room, poll.visibility
        before = self.drain.writes(name)
        try:
            raw = self.engine.call_on(
                name,
                "receive",
                lambda queue, timeout: queue.receive(room, wait=0.0, visibility=visibility, timeout=timeout),
                timeout=max(min(poll.attempt, poll.hold_until - self._clock.monotonic()), DEFAULT_FLOOR),
            )
        except FailoverError as exc:
            # It stays marked; the next receive tries again. Its health tracker has counted the failure.
            logger.debug("draining %s failed: %s", name, exc)
            return
        if not raw:
            self.drain.came_back_empty(name, before)
        self._deliver(name, raw, poll)

    def _long_poll(self, poll: _Poll) -> None:
        room, visibility = poll.room, poll.visibility
        # With messages in hand already, take what is there and do not keep the caller waiting.
        wait_until = self._clock.monotonic() if poll.found else poll.wait_until

        def attempt(queue: MessageQueue, timeout: float) -> tuple[int, list[Message]]:
            now = self._clock.monotonic()
            wait = max(0.0, wait_until - now)
            # The adapter's timeout is on top of its wait: the whole stays inside the hold deadline.
            read_timeout = min(timeout, max(poll.hold_until - now - wait, DEFAULT_FLOOR))
            before = self.drain.writes(queue.name)
            return before, queue.receive(room, wait=wait, visibility=visibility, timeout=read_timeout)

        outcome = self.engine.call(
            "receive",
            attempt,
            timeout=max(poll.hold_until - self._clock.monotonic(), DEFAULT_FLOOR),
            timed=wait_until <= self._clock.monotonic(),  # a long poll's wait is not slowness
        )
        before, raw = outcome.value
        if not raw:
            self.drain.came_back_empty(outcome.endpoint, before)
        self._deliver(outcome.endpoint, raw, poll)

    def _deliver(self, name: str, raw: list[Message], poll: _Poll) -> None:
        for message in raw:
            admitted = False
            if poll.deduplicate and self.dedup is not None:
                if not self.dedup.admit(name, message):
                    self._count("duplicates_dropped")
                    self._settle(name, message, "a duplicate of a message already delivered")
                    continue
                admitted = True
            body, claim = message.body, self.claims.key_in(message.body)
            if claim is not None:
                try:
                    body = self.claims.fetch(claim, None)
                except NotFound:
                    self._count("claims_gone")
                    self._settle(name, message, "its claim-check body is gone: a copy was processed and acked")
                    continue
                except FailoverError as exc:
                    self._count("claims_unavailable")
                    # Left hidden: it comes back when its visibility ends, and the store may be back too.
                    logger.warning("claim-check body %s of a message from %s unavailable: %s", claim, name, exc)
                    continue
            poll.found.append(
                Message(
                    body=body,
                    attributes=message.attributes,
                    id=message.id,
                    provider=message.provider,
                    receipt=Receipt(name, message, claim, admitted),
                    delivery_count=message.delivery_count,
                    dedup_id=message.dedup_id,
                    queue=name,
                )
            )

    def _settle(self, name: str, message: Message, why: str) -> None:
        """Ack a message that is not handed on; a failure is logged (it comes back and is dropped again)."""
        try:
            self.engine.call_on(name, "ack", lambda queue, timeout: queue.ack(message, timeout=timeout))
        except FailoverError as exc:
            logger.info("could not ack a message from %s (%s): %s", name, why, exc)

"""Receiving from every queue that may hold messages, within the caller's wait.

One `receive` first polls, without waiting, each queue the `DrainSet` marks (and every queue while
the preferred one is DOWN, and every queue once per sweep interval), then long-polls the best queue
for what is left of ``wait``. Every call shares one hold deadline, ``wait`` plus the call's ``timeout``
from the start, so a hung queue costs the caller at most that. The delivered messages are wrapped:
the receipt names the queue that delivered them, so that ack, nack and extend go back to it.

A receive does not fail while some queue answers: the long poll on the best queue keeps half an
attempt of the hold for the next queue when others are available (a hung queue's timeout then
leaves time to fail over), and if it fails anyway, the other available queues are polled once. When
every queue's circuit is open (a heal the probes have not seen yet), the queues are asked in the
order their circuits opened, without waiting and within the probe timeout, each at most once a
second, until one answers; an answer moves it to PROBING, as a probe's would. The call raises only
when no queue answered at all.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from failover.clock import Clock
from failover.config.sections import DEFAULT_CLAIM_GIVE_UP
from failover.engine import Engine
from failover.errors import FailoverError
from failover.interfaces import Message, MessageQueue
from failover.policy import DEFAULT_FLOOR
from failover.queue._claims import ClaimCheck, ClaimMissing, ClaimRef
from failover.queue._dedup import ReceiveDedup, Verdict
from failover.queue._drain import DrainSet

__all__ = ["DEFAULT_CLAIM_GIVE_UP", "QueueCounters", "Receipt", "Receiver"]

logger = logging.getLogger("failover.queue")

_LAST_RESORT_EVERY = 1.0  # seconds between last-resort receives from one queue whose circuit is open


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
    duplicates_held: int = 0  # copies in flight in another consumer: left unacked until its lease ends
    claims_missing: int = 0  # pointers whose body no store holds: left for a later delivery
    claims_unavailable: int = 0  # pointers whose body the store could not serve: left for a later receive
    claims_abandoned: int = 0  # pointers whose body was missing at the give-up delivery: acked, logged as errors


@dataclass(slots=True)
class _Poll:
    """One receive's limits, on the engine's clock."""

    max_messages: int
    visibility: float | None
    attempt: float  # seconds the receive may take beyond its wait (the caller's timeout)
    wait_until: float
    hold_until: float
    deduplicate: bool
    found: list[Message] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)  # queues that answered this receive

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
        claim_give_up: int = DEFAULT_CLAIM_GIVE_UP,
    ) -> None:
        self.engine = engine
        self.claim_give_up = claim_give_up
        self.drain = drain
        self.claims = claims
        self.dedup = dedup
        self.primary = primary
        self._clock: Clock = engine.clock
        self._turn = 0
        self._counts: Counter[str] = Counter()
        self._last_resort_at: dict[str, float] = {}
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
                for name in self.engine.names:
                    if name not in poll.answered and self.engine.is_available(name) and self._time_for_one_more(poll):
                        self._drain_one(name, poll)
                if not poll.answered and not self._last_resort(poll):
                    raise
                logger.debug("the long poll failed; returning what the queues that answered gave", exc_info=True)
        return poll.found

    def _last_resort(self, poll: _Poll) -> bool:
        """Every circuit is open: ask the queues, the one whose circuit opened first first, once each
        (a queue asked less than a second ago is waited for, if the hold allows), until one answers."""
        if any(self.engine.is_available(name) for name in self.engine.names):
            return False
        for name in sorted(self.engine.names, key=lambda each: self.engine.health[each].record.since):
            last = self._last_resort_at.get(name)
            if last is not None:
                ready = last + _LAST_RESORT_EVERY - self._clock.monotonic()
                if ready > 0 and ready > poll.hold_until - self._clock.monotonic() - DEFAULT_FLOOR:
                    continue  # not again so soon, and the caller cannot wait for it
                if ready > 0:
                    threading.Event().wait(ready)  # within the receive's hold: a wait, not a failure
            if self._ask(name, poll):
                return True
        return False

    def _ask(self, name: str, poll: _Poll) -> bool:
        started = self._clock.monotonic()
        self._last_resort_at[name] = started
        timeout = min(poll.attempt, self.engine.settings.probe_timeout)
        try:
            raw = self.engine.endpoints[name].adapter.receive(
                poll.room, wait=0.0, visibility=poll.visibility, timeout=timeout
            )
        except FailoverError as exc:
            logger.debug("last-resort receive from %s failed: %s", name, exc)
            return False
        self.engine.health[name].probe_succeeded(self._clock.monotonic() - started)
        poll.answered.add(name)
        self._deliver(name, raw, poll)
        return True

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
        poll.answered.add(name)
        if raw:
            self.drain.found_messages(name)
        else:
            self.drain.came_back_empty(name, before)
        self._deliver(name, raw, poll)

    def _long_poll(self, poll: _Poll) -> None:
        room, visibility = poll.room, poll.visibility
        # With messages in hand already, take what is there and do not keep the caller waiting.
        wait_until = self._clock.monotonic() if poll.found else poll.wait_until
        others = sum(1 for name in self.engine.names if self.engine.is_available(name)) > 1
        # Kept for the next queue when the first one hangs: half an attempt, if another may answer.
        reserve = poll.attempt / 2 if others else 0.0

        def attempt(queue: MessageQueue, timeout: float) -> tuple[int, list[Message]]:
            now = self._clock.monotonic()
            wait = max(0.0, wait_until - now)
            # The adapter's timeout is on top of its wait: the whole stays inside the hold deadline,
            # less the reserve unless the hold is nearly over (the last queue tried takes what is left).
            left = poll.hold_until - now - wait
            read_timeout = min(
                timeout, max(left - reserve if left - reserve >= poll.attempt / 4 else left, DEFAULT_FLOOR)
            )
            before = self.drain.writes(queue.name)
            return before, queue.receive(room, wait=wait, visibility=visibility, timeout=read_timeout)

        outcome = self.engine.call(
            "receive",
            attempt,
            timeout=max(poll.hold_until - self._clock.monotonic(), DEFAULT_FLOOR),
            timed=wait_until <= self._clock.monotonic(),  # a long poll's wait is not slowness
        )
        before, raw = outcome.value
        poll.answered.add(outcome.endpoint)
        if not raw:
            self.drain.came_back_empty(outcome.endpoint, before)
        self._deliver(outcome.endpoint, raw, poll)

    def _deliver(self, name: str, raw: list[Message], poll: _Poll) -> None:
        for message in raw:
            admitted = False
            if poll.deduplicate and self.dedup is not None:
                admission = self.dedup.admit(name, message, poll.visibility)
                if admission.verdict is Verdict.DROP:
                    self._count("duplicates_dropped")
                    self._settle(name, message, "a duplicate of a message already delivered")
                    continue
                if admission.verdict is Verdict.HOLD:
                    self._count("duplicates_held")
                    self._hold(name, message, admission.lease_left)
                    continue
                admitted = True
            body, ref = message.body, self.claims.ref_in(message.body)
            claim = ref.key if ref is not None else None
            if ref is not None:
                try:
                    body = self.claims.fetch(ref, None)
                except ClaimMissing as exc:
                    self._missing(name, message, ref, exc)
                    continue
                except FailoverError as exc:
                    self._count("claims_unavailable")
                    # Left hidden: it comes back when its visibility ends, and the store may be back too.
                    logger.warning("claim-check body %s of a message from %s unavailable: %s", ref.key, name, exc)
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

    def _missing(self, name: str, message: Message, ref: ClaimRef, exc: ClaimMissing) -> None:
        """No store holds the body. That is no proof the message was processed (a copy that was is
        dropped by the dedup window before its body is read): it is left hidden, to come back when its
        visibility ends, until its delivery count reaches ``claim_give_up``; then it is acked, loudly."""
        if message.delivery_count < self.claim_give_up:
            self._count("claims_missing")
            logger.warning(
                "claim-check body of message %s from %s not found in any store (delivery %d of %d before"
                " giving up): %s",
                message.id,
                name,
                message.delivery_count,
                self.claim_give_up,
                exc,
            )
            return
        self._count("claims_abandoned")
        logger.error(
            "giving up on message %s from %s (failover_id %s) after %d deliveries: its claim-check body %s"
            " (written to %s, version %s) is in no store; the message is acked and its body lost",
            message.id,
            name,
            message.dedup_id,
            message.delivery_count,
            ref.key,
            ref.where or "?",
            ref.version or "?",
        )
        self._settle(name, message, "its claim-check body stayed missing")

    def _hold(self, name: str, message: Message, lease_left: float) -> None:
        """Leave a copy that another consumer holds unacked, hidden (where the queue can) until the
        holder's lease ends: it then comes back, dropped if the holder acked, else handed on."""
        seconds = max(1.0, float(int(lease_left + 0.999)))  # whole seconds: SQS takes no fractions
        try:
            self.engine.call_on(name, "extend", lambda queue, timeout: queue.extend(message, seconds, timeout=timeout))
        except FailoverError as exc:
            logger.debug("could not hide a held copy from %s for %.0f s: %s", name, seconds, exc)

    def _settle(self, name: str, message: Message, why: str) -> None:
        """Ack a message that is not handed on; a failure is logged (it comes back and is dropped again)."""
        try:
            self.engine.call_on(name, "ack", lambda queue, timeout: queue.ack(message, timeout=timeout))
        except FailoverError as exc:
            logger.info("could not ack a message from %s (%s): %s", name, why, exc)

"""Sending through the engine: one message, or a batch whose failed entries move to the next queue.

Every message carries its ``failover_id`` as the adapters' dedup id, so a send retried after an
ambiguous failure (`OutcomeUnknown`: the request went out, no answer came) goes out again with the
same id, to the next queue or to the same one, and the consumer's dedup drops the copy. A queue that
took a message, or may have, joins the `DrainSet`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from failover.engine import Engine
from failover.errors import Disposition, FailoverError, OutcomeUnknown, ProviderUnavailable, Reason
from failover.interfaces import MessageId, MessageQueue, OutgoingMessage, SendResult
from failover.policy import DEFAULT_FLOOR, Deadline, classify
from failover.queue._drain import DrainSet

__all__ = ["Outgoing", "Sender"]


@dataclass(slots=True)
class Outgoing:
    """One checked message, ready for any queue: ``payload`` is the body or its claim-check pointer."""

    index: int
    payload: bytes
    attributes: dict[str, str]
    failover_id: str
    delay: float
    claim: str | None = None
    maybe_sent: bool = field(default=False)  # some queue answered OutcomeUnknown for it

    def as_outgoing_message(self) -> OutgoingMessage:
        return OutgoingMessage(self.payload, self.attributes, self.failover_id, self.delay)


def _time_left(deadline: Deadline) -> float:
    return max(deadline.remaining(), DEFAULT_FLOOR)


class Sender:
    """Sends `Outgoing` messages through ``engine``, recording in ``drain`` which queues took them."""

    def __init__(
        self, engine: Engine[MessageQueue], drain: DrainSet, on_sent: Callable[[str], None] | None = None
    ) -> None:
        self.engine = engine
        self.drain = drain
        self.on_sent = on_sent  # told which queue took a send (the brownout watch)

    def send(self, message: Outgoing, deadline: Deadline) -> MessageId:
        outcome = self.engine.call("send", partial(self._send_one, message), timeout=_time_left(deadline))
        self.drain.wrote(outcome.endpoint)
        if self.on_sent is not None:
            self.on_sent(outcome.endpoint)
        return outcome.value

    def _send_one(self, message: Outgoing, queue: MessageQueue, timeout: float) -> MessageId:
        try:
            return queue.send(
                message.payload,
                attributes=message.attributes,
                dedup_id=message.failover_id,
                delay=message.delay,
                timeout=timeout,
            )
        except OutcomeUnknown:
            message.maybe_sent = True
            self.drain.wrote(queue.name)
            raise

    def send_batch(self, batch: Sequence[Outgoing], deadline: Deadline) -> dict[int, SendResult]:
        """Results by `Outgoing.index`. The batch goes to one queue; the entries it failed (but for
        FATAL ones, which every queue would fail) go to the next, until none is left untried."""
        results: dict[int, SendResult] = {}
        pending = list(batch)
        tried: set[str] = set()
        everyone = set(self.engine.names)
        while pending and not tried >= everyone:
            if not deadline.can_start_attempt():
                late = ProviderUnavailable("no time left to send", reason=Reason.OTHER, operation="send_batch")
                for message in pending:
                    results.setdefault(message.index, SendResult(error=late))
                break
            try:
                outcome = self.engine.call(
                    "send_batch",
                    partial(self._send_many, pending),
                    timeout=_time_left(deadline),
                    skip=frozenset(tried),
                )
            except FailoverError as exc:  # every queue left failed the whole batch, or it was refused as a whole
                for message in pending:
                    results[message.index] = SendResult(error=exc)
                break
            tried.add(outcome.endpoint)
            tried.update(name for name, _ in outcome.failures)
            if self.on_sent is not None:
                self.on_sent(outcome.endpoint)
            retry: list[Outgoing] = []
            for message, result in zip(pending, outcome.value, strict=True):
                results[message.index] = result
                if result.error is not None and classify(result.error) is not Disposition.FATAL:
                    retry.append(message)
            pending = retry
        return results

    def _send_many(self, batch: list[Outgoing], queue: MessageQueue, timeout: float) -> list[SendResult]:
        answers = list(queue.send_batch([message.as_outgoing_message() for message in batch], timeout=timeout))
        if len(answers) != len(batch):
            raise RuntimeError(f"{queue.name} answered {len(answers)} results for a batch of {len(batch)}")
        unknown = False
        for message, answer in zip(batch, answers, strict=True):
            if isinstance(answer.error, OutcomeUnknown):
                message.maybe_sent = unknown = True
        if unknown or any(answer.ok for answer in answers):
            self.drain.wrote(queue.name)
        errors = [answer.error for answer in answers if answer.error is not None]
        if errors and len(errors) == len(answers) and all(classify(error) is not Disposition.FATAL for error in errors):
            # The queue failed the whole batch (down, throttling): an error the engine retries or fails
            # over on, and that its health tracker counts, rather than a "success" of all failures.
            raise errors[0]
        return answers

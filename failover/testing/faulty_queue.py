"""`FaultyQueue`: a `MessageQueue` that wraps another and fails on cue, for unit tests of failover.

The queue twin of `FaultyStore`, with the same scripting and the same error helpers::

    from failover.adapters.memory import MemoryQueue
    from failover.testing.faulty import refused, timed_out
    from failover.testing.faulty_queue import FaultyQueue

    sqs = FaultyQueue(MemoryQueue("sqs"))
    sqs.fail(refused())                          # every call raises ProviderUnavailable(REFUSED)
    sqs.fail(timed_out(), "send", times=1, after=True)   # the next send is queued, then times out
    sqs.fail(refused(), "send_batch", entries=lambda m: m.body == b"b")  # that entry fails alone
    ...
    assert sqs.calls["send"] == 1                # calls that reached the wrapper, failed or not
    sqs.heal()

``after=True`` lets the call reach the wrapped queue before the error is raised: a send that
happened although its caller heard a timeout (`OutcomeUnknown`). ``entries`` narrows a
``send_batch`` rule to the entries it selects: they get the error as their result and are not sent,
the others are. With a `ManualClock`, ``latency`` advances the clock on each call. Thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from failover.adapters._messages import body_room
from failover.errors import FailoverError
from failover.interfaces import Message, MessageId, MessageQueue, OutgoingMessage, QueueCapabilities, SendResult
from failover.testing._script import EntryFilter, ErrorFactory, Rule, ScriptedWrapper, error_factory
from failover.testing.faulty import refused

__all__ = ["OPERATIONS", "FaultyQueue"]

OPERATIONS = ("send", "send_batch", "receive", "ack", "nack", "extend")


class FaultyQueue(ScriptedWrapper[MessageQueue]):
    """A `MessageQueue` over ``inner`` that raises scripted errors and counts calls per operation.

    ``calls[op]`` counts every call of ``op`` (failed or not), ``failures[op]`` those that raised a
    scripted error (for an ``entries`` rule: the entries it failed). ``name`` defaults to the inner
    queue's; provider and capabilities are the inner queue's.
    """

    _operations = OPERATIONS

    def fail(
        self,
        error: FailoverError | ErrorFactory | None = None,
        *operations: str,
        times: int | None = None,
        after: bool = False,
        entries: EntryFilter | None = None,
    ) -> None:
        """Raise ``error`` (default: `refused`) on the next ``times`` calls (None: until `heal`) of
        ``operations`` (default: all). ``after``: the call reaches the wrapped queue first.
        ``entries``: a ``send_batch`` rule that fails only the entries it selects."""
        covered = self._covered(operations)
        if times is not None and times < 1:
            raise ValueError(f"times is at least 1 (or None: until healed), not {times!r}")
        if entries is not None and set(operations) != {"send_batch"}:
            raise ValueError("entries= narrows a send_batch rule: pass 'send_batch' as the only operation")
        self._add(Rule(error_factory(error if error is not None else refused), covered, times, after, entries))

    # -- the MessageQueue ------------------------------------------------------------------------

    @property
    def capabilities(self) -> QueueCapabilities:
        return self.inner.capabilities

    def body_room(self, attributes: Mapping[str, str]) -> int:
        """The wrapped queue's room for a body beside ``attributes`` (see `SupportsBodyRoom`)."""
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
        return self._run(
            "send",
            lambda: self.inner.send(body, attributes=attributes, dedup_id=dedup_id, delay=delay, timeout=timeout),
        )

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        batch = list(messages)
        rule = self._enter("send_batch")
        if rule is None or rule.entries is None:
            return self._apply(rule, "send_batch", lambda: self.inner.send_batch(batch, timeout=timeout))
        selected = [rule.entries(message) for message in batch]
        with self._lock:
            self.failures["send_batch"] += sum(selected)
        passed = [message for message, hit in zip(batch, selected, strict=True) if not hit]
        sent = iter(self.inner.send_batch(passed, timeout=timeout) if passed else ())
        return [SendResult(error=self._error(rule, "send_batch")) if hit else next(sent) for hit in selected]

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        return self._run(
            "receive", lambda: self.inner.receive(max_messages, wait=wait, visibility=visibility, timeout=timeout)
        )

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        self._run("ack", lambda: self.inner.ack(message, timeout=timeout))

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        self._run("nack", lambda: self.inner.nack(message, delay=delay, timeout=timeout))

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        self._run("extend", lambda: self.inner.extend(message, visibility, timeout=timeout))

    def __repr__(self) -> str:
        return f"FaultyQueue({self.inner!r}, name={self._name!r}, rules={len(self._rules)})"

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

import copy
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from failover.clock import ManualClock
from failover.errors import FailoverError
from failover.interfaces import Message, MessageId, MessageQueue, OutgoingMessage, QueueCapabilities, SendResult
from failover.testing.faulty import ErrorFactory, refused

__all__ = ["OPERATIONS", "FaultyQueue"]

T = TypeVar("T")

OPERATIONS = ("send", "send_batch", "receive", "ack", "nack", "extend")

EntryFilter = Callable[[OutgoingMessage], bool]


@dataclass(slots=True)
class _Rule:
    error: ErrorFactory
    operations: frozenset[str]
    times: int | None  # None: until healed
    after: bool
    entries: EntryFilter | None


class FaultyQueue:
    """A `MessageQueue` over ``inner`` that raises scripted errors and counts calls per operation.

    ``calls[op]`` counts every call of ``op`` (failed or not), ``failures[op]`` those that raised a
    scripted error (for an ``entries`` rule: the entries it failed). ``name`` defaults to the inner
    queue's; provider and capabilities are the inner queue's.
    """

    def __init__(
        self,
        inner: MessageQueue,
        *,
        name: str | None = None,
        clock: ManualClock | None = None,
        latency: float = 0.0,
    ) -> None:
        self.inner = inner
        self._name = name if name is not None else inner.name
        self.clock = clock
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()

    # -- scripting -------------------------------------------------------------------------------

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
        unknown = set(operations) - set(OPERATIONS)
        if unknown:
            raise ValueError(f"unknown operations {sorted(unknown)}; choose among {OPERATIONS}")
        if times is not None and times < 1:
            raise ValueError(f"times is at least 1 (or None: until healed), not {times!r}")
        if entries is not None and set(operations) != {"send_batch"}:
            raise ValueError("entries= narrows a send_batch rule: pass 'send_batch' as the only operation")
        factory = _factory(error if error is not None else refused)
        with self._lock:
            self._rules.append(_Rule(factory, frozenset(operations or OPERATIONS), times, after, entries))

    def heal(self) -> None:
        """Forget every scripted failure."""
        with self._lock:
            self._rules.clear()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.failures.clear()

    def _enter(self, operation: str) -> _Rule | None:
        with self._lock:
            self.calls[operation] += 1
            rule = next((rule for rule in self._rules if operation in rule.operations), None)
            if rule is not None and rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
            if rule is not None and rule.entries is None:
                self.failures[operation] += 1
        if self.clock is not None and self.latency:
            self.clock.advance(self.latency)
        return rule

    def _error(self, rule: _Rule, operation: str) -> FailoverError:
        error = rule.error()
        if error.operation is None:
            error.operation = operation
        if error.provider is None:
            error.provider = self.provider
        return error

    def _run(self, operation: str, call: Callable[[], T]) -> T:
        return self._apply(self._enter(operation), operation, call)

    def _apply(self, rule: _Rule | None, operation: str, call: Callable[[], T]) -> T:
        if rule is None:
            return call()
        error = self._error(rule, operation)
        if rule.after:
            call()
        raise error

    # -- the MessageQueue ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return self.inner.provider

    @property
    def capabilities(self) -> QueueCapabilities:
        return self.inner.capabilities

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

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"FaultyQueue({self.inner!r}, name={self._name!r}, rules={len(self._rules)})"


def _factory(error: FailoverError | ErrorFactory) -> ErrorFactory:
    if isinstance(error, FailoverError):
        template = error
        return lambda: copy.copy(template)  # a fresh exception each time: tracebacks do not pile up
    return error

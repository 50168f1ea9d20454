"""The history of a chaos run: every operation, when it began and ended, and what came of it.

Time in a history is logical: one counter, bumped when an operation begins and again when it ends,
so "acknowledged before the read began" is ``write.end < read.start``, whatever the machine's load.
The counter of workload operations begun (`History.begin`) is also the clock the fault schedule
runs on.
"""

from __future__ import annotations

import enum
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from failover.errors import AllProvidersFailed, FailoverError, OutcomeUnknown

__all__ = ["Event", "History", "Kind", "Outcome", "Slot", "classify_failure", "digest"]


class Outcome(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"  # an error that proves the operation had no effect
    INDETERMINATE = "indeterminate"  # it may or may not have taken effect (OutcomeUnknown somewhere)


class Kind(enum.StrEnum):
    PUT = "put"
    DELETE = "delete"
    GET = "get"
    SEND = "send"
    RECEIVE = "receive"  # one event per message handed to the consumer (or one per empty/failed receive)
    ACK = "ack"
    NEMESIS = "nemesis"  # a fault broken or healed, a replicator killed


WRITES = frozenset({Kind.PUT, Kind.DELETE})


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Event:
    """One operation. ``key`` is the object key or the message's failover id; ``digest`` the sha256
    of the value written, read or sent (None: a delete, or a read that found nothing)."""

    index: int  # the workload operation's number (the schedule's clock); -1 for consumer and nemesis events
    process: str
    kind: Kind
    key: str
    digest: str | None
    version: str | None
    start: int
    end: int
    outcome: Outcome
    error: str | None = None
    broken: str = ""  # the providers broken when the operation ended (for explaining failures)
    elapsed: float = 0.0  # seconds, for the report only; nothing asserts on it
    message: str = ""  # the error's text, for a closer look


@dataclass(frozen=True, slots=True)
class Slot:
    """A begun operation: its number and its logical start."""

    index: int
    start: int
    started_at: float


def classify_failure(error: BaseException) -> Outcome:
    """FAILED when every provider's error proves the call had no effect, else INDETERMINATE."""
    if not isinstance(error, FailoverError):
        return Outcome.INDETERMINATE
    if isinstance(error, OutcomeUnknown):
        return Outcome.INDETERMINATE
    if isinstance(error, AllProvidersFailed):
        inner = [classify_failure(each) for each in error.errors]
        return Outcome.INDETERMINATE if Outcome.INDETERMINATE in inner else Outcome.FAILED
    return Outcome.FAILED


def describe(error: BaseException) -> str:
    """A short name for an error: its type, and for `AllProvidersFailed` the types it lists."""
    if isinstance(error, AllProvidersFailed):
        inner = sorted({type(each).__name__ for each in error.errors})
        return f"AllProvidersFailed[{','.join(inner)}]"
    return type(error).__name__


class History:
    """Thread-safe record of events; hands out operation numbers until ``budget`` is spent."""

    def __init__(self, budget: int, *, broken: Callable[[], str] = str) -> None:
        self.budget = budget
        self.broken = broken  # what is broken now, recorded with each failed operation
        self._cond = threading.Condition()
        self._clock = 0
        self._begun = 0
        self._events: list[Event] = []

    def tick(self) -> int:
        with self._cond:
            self._clock += 1
            return self._clock

    def begin(self) -> Slot | None:
        """The next workload operation, or None once the budget is spent."""
        with self._cond:
            if self._begun >= self.budget:
                return None
            index = self._begun
            self._begun += 1
            self._clock += 1
            self._cond.notify_all()
            return Slot(index, self._clock, time.monotonic())

    def start(self) -> Slot:
        """An operation outside the budget (the consumer's, the final drain's)."""
        return Slot(-1, self.tick(), time.monotonic())

    @property
    def begun(self) -> int:
        with self._cond:
            return self._begun

    def wait_for(self, count: int, cancelled: Callable[[], bool], poll: float = 0.05) -> bool:
        """Wait until ``count`` operations have begun; False if ``cancelled()`` first."""
        with self._cond:
            while self._begun < count:
                if cancelled():
                    return False
                self._cond.wait(poll)
            return True

    def finish(
        self,
        slot: Slot,
        process: str,
        kind: Kind,
        key: str,
        *,
        outcome: Outcome,
        digest: str | None = None,
        version: str | None = None,
        error: BaseException | str | None = None,
    ) -> Event:
        text = error if isinstance(error, str) or error is None else describe(error)
        event = Event(
            slot.index,
            process,
            kind,
            key,
            digest,
            version,
            slot.start,
            self.tick(),
            outcome,
            text,
            self.broken() if outcome is not Outcome.OK else "",
            time.monotonic() - slot.started_at,
            "" if error is None else str(error)[:500],
        )
        with self._cond:
            self._events.append(event)
        return event

    def events(self) -> Sequence[Event]:
        with self._cond:
            return tuple(self._events)

"""The scripted failures of `FaultyStore` and `FaultyQueue`: rules, call counts and the latency clock.

A wrapper subclasses `ScriptedWrapper`, names its operations, adds a `Rule` from its ``fail``
and sends each call through `_run`: the first rule that covers the operation makes the call raise,
before it reaches the wrapped object or ``after`` it. Thread-safe.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

from failover.clock import ManualClock
from failover.errors import FailoverError
from failover.interfaces import OutgoingMessage

__all__ = ["EntryFilter", "ErrorFactory", "Rule", "ScriptedWrapper", "error_factory"]

T = TypeVar("T")

ErrorFactory = Callable[[], FailoverError]
EntryFilter = Callable[[OutgoingMessage], bool]


class _Wrapped(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def provider(self) -> str: ...

    def close(self) -> None: ...


InnerT = TypeVar("InnerT", bound=_Wrapped)


@dataclass(slots=True)
class Rule:
    error: ErrorFactory
    operations: frozenset[str]
    times: int | None  # None: until healed
    after: bool
    # A send_batch rule that fails only the entries it selects, not the call; the wrapper counts those.
    entries: EntryFilter | None = None


def error_factory(error: FailoverError | ErrorFactory) -> ErrorFactory:
    if isinstance(error, FailoverError):
        template = error
        return lambda: copy.copy(template)  # a fresh exception each time: tracebacks do not pile up
    return error


class ScriptedWrapper(Generic[InnerT]):
    """Wraps ``inner``, raises the scripted errors and counts calls per operation.

    ``calls[op]`` counts every call of ``op`` (failed or not), ``failures[op]`` those that raised a
    scripted error. ``name`` defaults to the inner object's; ``provider`` is the inner object's.
    """

    _operations: ClassVar[tuple[str, ...]]  # every operation the wrapper has

    def __init__(
        self,
        inner: InnerT,
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
        self._rules: list[Rule] = []
        self._lock = threading.Lock()

    # -- scripting -------------------------------------------------------------------------------

    def _covered(self, operations: tuple[str, ...]) -> frozenset[str]:
        """The operations a rule names (none: all of them), each checked to be one the wrapper has."""
        unknown = set(operations) - set(self._operations)
        if unknown:
            raise ValueError(f"unknown operations {sorted(unknown)}; choose among {self._operations}")
        return frozenset(operations or self._operations)

    def _add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def heal(self) -> None:
        """Forget every scripted failure."""
        with self._lock:
            self._rules.clear()

    @property
    def read_timeout(self) -> float | None:
        """The wrapped adapter's configured read timeout (the engine's default attempt timeout), if any."""
        configured = getattr(self.inner, "read_timeout", None)
        return configured if isinstance(configured, float | int) else None

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.failures.clear()

    def _enter(self, operation: str) -> Rule | None:
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

    def _error(self, rule: Rule, operation: str) -> FailoverError:
        error = rule.error()
        if error.operation is None:
            error.operation = operation
        if error.provider is None:
            error.provider = self.provider
        return error

    def _run(self, operation: str, call: Callable[[], T]) -> T:
        return self._apply(self._enter(operation), operation, call)

    def _apply(self, rule: Rule | None, operation: str, call: Callable[[], T]) -> T:
        if rule is None:
            return call()
        error = self._error(rule, operation)
        if rule.after:
            call()
        raise error

    # -- what every wrapped object has -----------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return self.inner.provider

    def close(self) -> None:
        self.inner.close()

"""What the engine tells an observer: calls, their attempts and hedges, and replication.

One `Observer` per failover group (a storage's engine and its replicator share it). The default,
`NO_OBSERVER`, answers `start_call` with None, and the engine then takes its plain path: no
wrapper, no timing beyond its own, no allocation (``benchmarks/telemetry.py`` measures what
remains). `failover.telemetry` implements the Protocol with OpenTelemetry; nothing else in the
package imports OpenTelemetry.

Failovers and circuit state changes are not in this Protocol: they are already events
(`HealthEvents.on_failover`, ``on_state_change``), told synchronously on the calling thread, and
an observer listens there. What can be read when asked (circuit states, the journal's backlog, a
queue's `counters`) is read by the observer, not pushed. Methods are called inside the call, on
its thread (a hedged read's attempts on the executor's threads), and must be cheap and must not
raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol, TypeVar

from failover.clock import Clock

__all__ = ["NO_OBSERVER", "CallObserver", "NoObserver", "Observer", "observe_attempts", "observed"]

A = TypeVar("A")
T = TypeVar("T")


class CallObserver(Protocol):
    """Hears one call of the engine, from `Observer.start_call` to `end`."""

    def attempt(self, endpoint: str, seconds: float, error: BaseException | None) -> None:
        """One attempt on ``endpoint`` ended (a retry is an attempt too): its duration and its error, if any."""

    def hedge(self, endpoint: str) -> None:
        """A hedged read sent the same request to ``endpoint`` while an earlier one was still in flight."""

    def end(self, endpoint: str | None, error: BaseException | None) -> None:
        """The call ended: answered by ``endpoint``, or raised ``error`` (``endpoint`` None)."""


class Observer(Protocol):
    """What one failover group reports as it works."""

    def start_call(self, operation: str) -> CallObserver | None:
        """A call of ``operation`` (``"get"``, ``"put"``, ``"send"`` ...) starts: its observer, or None."""

    def replicated(self, store: str, lag: float) -> None:
        """The replicator applied an item to ``store``, ``lag`` seconds after its write was journaled."""


class NoObserver:
    """Observes nothing: the engine's default."""

    __slots__ = ()

    def start_call(self, operation: str) -> CallObserver | None:
        return None

    def replicated(self, store: str, lag: float) -> None:
        return None


NO_OBSERVER: Final = NoObserver()


def observe_attempts(
    fn: Callable[[A, float], T], watch: CallObserver, name_of: Callable[[A], str], clock: Clock
) -> Callable[[A, float], T]:
    """``fn`` (one attempt on an adapter) timed, its end told to ``watch``."""

    def attempt(adapter: A, timeout: float) -> T:
        started = clock.monotonic()
        try:
            value = fn(adapter, timeout)
        except BaseException as exc:
            watch.attempt(name_of(adapter), clock.monotonic() - started, exc)
            raise
        watch.attempt(name_of(adapter), clock.monotonic() - started, None)
        return value

    return attempt


class _Answered(Protocol):
    @property
    def endpoint(self) -> str: ...


R = TypeVar("R", bound=_Answered)


def observed(watch: CallObserver, run: Callable[[], R]) -> R:
    """``run()``, its end (the endpoint that answered, or the error) told to ``watch``."""
    try:
        outcome = run()
    except BaseException as exc:
        watch.end(None, exc)
        raise
    watch.end(outcome.endpoint, None)
    return outcome

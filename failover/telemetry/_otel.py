"""The OpenTelemetry `Observer`: instruments made once per meter provider, one `Instrumentation` per group."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

from opentelemetry import context, metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

import failover
from failover.engine import Engine
from failover.errors import ConfigError
from failover.health import HealthState
from failover.observe import NO_OBSERVER, CallObserver
from failover.queue import FailoverQueue
from failover.replication import Replicator
from failover.storage import FailoverStorage

__all__ = ["Instrumentation"]

_SCOPE: Final = "failover"
# Seconds: from a memory store's microseconds to a deadline's tens of seconds.
_BUCKETS: Final = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STATES: Final = tuple(HealthState)
_CALL: Final = context.create_key("failover.call")  # the `_Call` whose span is current


class _Instruments:
    """The instruments of one meter provider, shared by every group instrumented on it.

    An SDK keeps the first instrument of a name and ignores a second one's callbacks, so the
    observable instruments are made once and their callbacks report every live group.
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self.groups: weakref.WeakSet[Instrumentation] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.attempt_duration = meter.create_histogram(
            "failover.attempt.duration",
            "s",
            "Duration of one attempt on one endpoint",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.call_duration = meter.create_histogram(
            "failover.call.duration",
            "s",
            "Duration of a call, failovers included",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.failovers = meter.create_counter("failover.failovers", "{failover}", "Calls moved to the next endpoint")
        self.hedges = meter.create_counter("failover.hedges", "{request}", "Hedged reads sent")
        self.hedges_won = meter.create_counter("failover.hedges.won", "{request}", "Hedged reads that answered first")
        self.retries = meter.create_counter("failover.retries", "{request}", "Retries sent (retry-budget tokens spent)")
        self.replication_lag = meter.create_histogram(
            "failover.replication.lag",
            "s",
            "From a journaled write to its copy on another store",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        meter.create_observable_gauge(
            "failover.circuit.state", [self._circuits], "1", "1 for the endpoint's current circuit state, else 0"
        )
        meter.create_observable_gauge("failover.journal.backlog", [self._backlog], "{item}", "Items still to replicate")
        meter.create_observable_counter(
            "failover.queue.deduplicated", [self._deduplicated], "{message}", "Copies dropped by the dedup window"
        )

    def _live(self) -> list[Instrumentation]:
        with self.lock:
            return [group for group in self.groups if not group.closed and not group.target.closed]

    def _circuits(self, options: CallbackOptions) -> Iterator[Observation]:
        for group in self._live():
            yield from group.circuits()

    def _backlog(self, options: CallbackOptions) -> Iterator[Observation]:
        for group in self._live():
            yield from group.backlog()

    def _deduplicated(self, options: CallbackOptions) -> Iterator[Observation]:
        for group in self._live():
            yield from group.deduplicated()


_SHARED: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def _instruments(meter_provider: Any) -> _Instruments:
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    with _SHARED_LOCK:
        found = _SHARED.get(provider)
        if found is None:
            found = _SHARED[provider] = _Instruments(provider.get_meter(_SCOPE, failover.__version__))
        return found


class Instrumentation:
    """One instrumented `FailoverStorage` or `FailoverQueue`: the engine's `Observer`, and its listeners."""

    def __init__(self, target: FailoverStorage | FailoverQueue, *, meter_provider: Any, tracer_provider: Any) -> None:
        if not isinstance(target, FailoverStorage | FailoverQueue):
            raise ConfigError(f"instrument takes a FailoverStorage or a FailoverQueue, not {type(target).__name__}")
        self.target = target
        self.engine: Engine[Any] = target.engine
        self.group = {"failover.group": target.name}
        self.closed = False
        self._attributes: dict[tuple[str, str, str | None], Mapping[str, str]] = {}
        self._span_names: dict[str, str] = {}
        self.tracer = trace.get_tracer(_SCOPE, failover.__version__, tracer_provider=tracer_provider)
        self.instruments = _instruments(meter_provider)
        with self.instruments.lock:
            self.instruments.groups.add(self)
        self.replicator: Replicator | None = target.replicator if isinstance(target, FailoverStorage) else None
        self.engine.health.events.on_failover.append(self._failed_over)
        self.engine.observer = self
        if self.replicator is not None:
            self.replicator.observer = self

    def close(self) -> None:
        """Stop reporting: the engine and the replicator go back to observing nothing."""
        self.closed = True
        if self.engine.observer is self:
            self.engine.observer = NO_OBSERVER
        if self.replicator is not None and self.replicator.observer is self:
            self.replicator.observer = NO_OBSERVER
        if self._failed_over in self.engine.health.events.on_failover:
            self.engine.health.events.on_failover.remove(self._failed_over)

    # -- the Observer Protocol -------------------------------------------------------------------

    def start_call(self, operation: str) -> CallObserver | None:
        return _Call(self, operation)

    def attributes(self, endpoint: str, operation: str = "", error: str | None = "") -> Mapping[str, str]:
        """The attributes of a measurement, made once per combination and shared (never changed):
        building them per call cost as much as recording. ``error`` None: outcome ok; "": no outcome."""
        key = (endpoint, operation, error)
        found = self._attributes.get(key)
        if found is None:
            made = dict(self.group)
            if endpoint:
                made["failover.endpoint"] = endpoint
            if operation:
                made["failover.operation"] = operation
            if error is None:
                made["failover.outcome"] = "ok"
            elif error:
                made["failover.outcome"] = "error"
                made["error.type"] = error
            found = self._attributes[key] = MappingProxyType(made)
        return found

    def span_name(self, operation: str) -> str:
        name = self._span_names.get(operation)
        if name is None:
            name = self._span_names[operation] = f"failover {operation}"
        return name

    def replicated(self, store: str, lag: float) -> None:
        self.instruments.replication_lag.record(max(lag, 0.0), {**self.group, "failover.store": store})

    # -- listeners and observable callbacks --------------------------------------------------------

    def _failed_over(self, from_endpoint: str, to_endpoint: str | None, operation: str, error: BaseException) -> None:
        to = to_endpoint if to_endpoint is not None else "none"
        kind = type(error).__name__
        self.instruments.failovers.add(
            1,
            {
                **self.group,
                "failover.from": from_endpoint,
                "failover.to": to,
                "failover.operation": operation,
                "error.type": kind,
            },
        )
        # Told on the calling thread, inside the call, whose span is current if it records.
        call = context.get_value(_CALL)
        if isinstance(call, _Call):
            call.span.add_event("failover", {"failover.from": from_endpoint, "failover.to": to, "error.type": kind})

    def circuits(self) -> Iterable[Observation]:
        for name in self.engine.names:
            current = self.engine.health[name].state
            for state in _STATES:
                attributes = {**self.group, "failover.endpoint": name, "failover.state": state.value}
                yield Observation(1 if state is current else 0, attributes)

    def backlog(self) -> Iterable[Observation]:
        if not isinstance(self.target, FailoverStorage):
            return
        pending = self.target.journal.backlog()
        for name in self.engine.names:
            yield Observation(pending.get(name, 0), {**self.group, "failover.store": name})

    def deduplicated(self) -> Iterable[Observation]:
        if isinstance(self.target, FailoverQueue):
            yield Observation(self.target.counters().duplicates_dropped, self.group)


class _Call:
    """One call's span and measurements (a `CallObserver`)."""

    __slots__ = ("attempts", "hedged", "operation", "owner", "recording", "span", "started", "token")

    def __init__(self, owner: Instrumentation, operation: str) -> None:
        self.owner = owner
        self.operation = operation
        self.started = owner.engine.clock.monotonic()
        self.attempts: dict[str, int] = {}
        self.hedged: set[str] = set()
        self.span: Span = owner.tracer.start_span(
            owner.span_name(operation), kind=SpanKind.CLIENT, attributes=owner.attributes("", operation)
        )
        # Current while the call runs, if it records (no SDK, or not sampled: nothing to nest under
        # it, and making it current cost more than the rest): the SDKs' own spans nest under it,
        # failovers find it.
        self.recording = self.span.is_recording()
        self.token = (
            context.attach(context.set_value(_CALL, self, trace.set_span_in_context(self.span)))
            if self.recording
            else None
        )

    def attempt(self, endpoint: str, seconds: float, error: BaseException | None) -> None:
        owner = self.owner
        previous = self.attempts.get(endpoint, 0)
        self.attempts[endpoint] = previous + 1
        if previous:
            owner.instruments.retries.add(1, owner.attributes(endpoint))
        kind = None if error is None else type(error).__name__
        owner.instruments.attempt_duration.record(seconds, owner.attributes(endpoint, self.operation, kind))
        if not self.recording:
            return
        event: dict[str, AttributeValue] = {"failover.endpoint": endpoint, "failover.seconds": seconds}
        if previous:
            event["failover.retry"] = True
        if kind is not None:
            event["error.type"] = kind
        self.span.add_event("attempt", event)

    def hedge(self, endpoint: str) -> None:
        self.hedged.add(endpoint)
        self.owner.instruments.hedges.add(1, self.owner.attributes(endpoint))
        if self.recording:
            self.span.add_event("hedge", {"failover.endpoint": endpoint})

    def end(self, endpoint: str | None, error: BaseException | None) -> None:
        owner = self.owner
        span = self.span
        kind = None if error is None else type(error).__name__
        if endpoint is not None and endpoint in self.hedged:
            owner.instruments.hedges_won.add(1, owner.attributes(endpoint))
        seconds = owner.engine.clock.monotonic() - self.started
        owner.instruments.call_duration.record(seconds, owner.attributes(endpoint or "", self.operation, kind))
        if self.token is not None:
            context.detach(self.token)
            if endpoint is not None:
                span.set_attribute("failover.endpoint", endpoint)
            if kind is not None:
                span.set_status(Status(StatusCode.ERROR, kind))
                span.set_attribute("error.type", kind)
        span.end()

"""Metrics and traces through the OpenTelemetry API (the ``failover[otel]`` extra).

``instrument(storage_or_queue)`` makes a `FailoverStorage` or a `FailoverQueue` report to the
OpenTelemetry API: to the global meter and tracer providers, or to the ones given. The application
chooses the SDK and the exporters (OTLP, console, Prometheus); without an SDK configured the API's
no-op providers record nothing. ``[telemetry] enabled = true`` in the configuration file does the
same for `FailoverStorage.from_config` and `FailoverQueue.from_config` (``traces = false``: metrics only).

Metrics (meter ``failover``; every point also carries ``failover.group``, the storage's or queue's name):

=============================  =================  ==================================================
name                           kind               attributes
=============================  =================  ==================================================
failover.attempt.duration      histogram (s)      endpoint, operation, outcome (ok, error), error.type
failover.call.duration         histogram (s)      operation, outcome, error.type, endpoint (that answered)
failover.failovers             counter            from, to (``none``: no endpoint left), operation
failover.circuit.state         gauge (1 or 0)     endpoint, state (healthy, degraded, probing, down)
failover.hedges                counter            endpoint (where the hedge went)
failover.hedges.won            counter            endpoint
failover.retries               counter            endpoint (each retry spends a retry-budget token)
failover.journal.backlog       gauge              store (items still to replicate there)
failover.replication.lag       histogram (s)      store (journaled write to copy applied)
failover.queue.deduplicated    counter            (copies dropped by the dedup window)
=============================  =================  ==================================================

The requests by endpoint, operation and outcome are the count of ``failover.attempt.duration``, as
OpenTelemetry's HTTP conventions count requests with their duration histogram: a separate counter
would cost each call one more measurement. The attribute names are prefixed ``failover.``
(``failover.endpoint``), except OpenTelemetry's own ``error.type``.

Traces: one span per call (``failover get``, ``failover put`` ...; kind CLIENT), current while the
call runs (when it records: sampled, with an SDK), with an ``attempt`` event per attempt, a
``failover`` event per failover and a ``hedge`` event per hedge, and ERROR status when the call
raised.

The engine does not import OpenTelemetry: it reports to a `failover.observe.Observer`, which is a
no-op until this module installs one (``benchmarks/telemetry.py`` measures both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.queue import FailoverQueue
    from failover.storage import FailoverStorage
    from failover.telemetry._otel import Instrumentation
    from failover.telemetry.config import TelemetryConfig

__all__ = ["instrument", "instrument_if_enabled"]


def instrument(
    target: FailoverStorage | FailoverQueue,
    *,
    meter_provider: Any = None,
    tracer_provider: Any = None,
    traces: bool = True,
) -> Instrumentation:
    """Report ``target``'s calls, failovers, circuits, hedges, retries, replication and dedup.

    ``meter_provider`` and ``tracer_provider`` (OpenTelemetry's ``MeterProvider`` and
    ``TracerProvider``) default to the global ones. Returns the `Instrumentation`; its ``close()``
    stops the reporting. ``traces=False``: metrics only, no span.
    """
    try:
        from failover.telemetry._otel import Instrumentation
    except ImportError as exc:
        raise ConfigError("install failover[otel] to use failover.telemetry", field="telemetry") from exc
    if not traces:
        from opentelemetry.trace import NoOpTracerProvider

        tracer_provider = NoOpTracerProvider()
    return Instrumentation(target, meter_provider=meter_provider, tracer_provider=tracer_provider)


def instrument_if_enabled(target: FailoverStorage | FailoverQueue, config: TelemetryConfig) -> None:
    """`instrument` ``target`` when the configuration's ``[telemetry]`` says so (`from_config` calls it)."""
    if not config.enabled:
        return
    try:
        instrument(target, traces=config.traces)
    except BaseException:
        target.close()  # built by from_config, not returned: nobody else would close it
        raise

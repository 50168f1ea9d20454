"""OpenTelemetry SDK providers with in-memory readers, and helpers that read what they collected."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from failover.adapters.memory import MemoryStore
from failover.interfaces import ObjectReader


@dataclass
class Collected:
    """A meter provider and a tracer provider whose metrics and spans a test reads back."""

    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)

    def __post_init__(self) -> None:
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))

    @property
    def providers(self) -> dict[str, Any]:
        return {"meter_provider": self.meter_provider, "tracer_provider": self.tracer_provider}

    def points(self, name: str) -> list[NumberDataPoint | HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        found: list[NumberDataPoint | HistogramDataPoint] = []
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(point for point in metric.data.data_points)  # type: ignore[misc]
        return found

    def value(self, name: str, **attributes: str) -> float:
        """The sum (counter, gauge) or count (histogram) of the points of ``name`` that carry ``attributes``."""
        total = 0.0
        for point in self.points(name):
            if _matches(point.attributes, attributes):
                total += point.count if isinstance(point, HistogramDataPoint) else point.value
        return total

    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.spans.get_finished_spans()

    def shutdown(self) -> None:
        self.meter_provider.shutdown()
        self.tracer_provider.shutdown()


def _matches(have: Mapping[str, Any] | None, want: Mapping[str, str]) -> bool:
    have = have or {}
    return all(have.get(_key(name)) == value for name, value in want.items())


def _key(name: str) -> str:
    """``error_type`` -> ``error.type``; ``endpoint`` -> ``failover.endpoint``."""
    return "error.type" if name == "error_type" else "failover." + name


def events(span: ReadableSpan, name: str) -> Iterator[Mapping[str, Any]]:
    for event in span.events:
        if event.name == name:
            yield event.attributes or {}


class GatedStore(MemoryStore):
    """Its reads wait until ``gate`` is set (a slow provider), for real: hedging waits on threads."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = threading.Event()

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        self.gate.wait(10.0)
        return super().get(key, byte_range=byte_range)

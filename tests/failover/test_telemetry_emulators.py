"""Telemetry on the local clouds: a refused Azure endpoint shows as a failover span event, failed requests,
a failover count and an open circuit, read back with the OpenTelemetry SDK's in-memory reader and exporter."""

from __future__ import annotations

import pytest

from failover.telemetry import instrument
from failover.testing.emulators import LocalClouds
from tests.failover.refused_support import refused_storage
from tests.unit.telemetry_support import Collected, events

pytestmark = pytest.mark.emulator


def test_a_refused_endpoint_shows_as_failover_event_counts_and_open_circuit(
    local_clouds: LocalClouds, unique_name: str
) -> None:
    storage, _ = refused_storage(local_clouds, unique_name)
    azure, aws = storage.engine.names
    collected = Collected()
    instrument(storage, **collected.providers)
    try:
        storage.put("k", b"body")
        assert storage.get_bytes("k") == b"body"
        (span,) = [span for span in collected.finished() if span.name == "failover put"]
        (failover,) = events(span, "failover")
        assert (failover["failover.from"], failover["failover.to"]) == (azure, aws)
        assert failover["error.type"] == "ProviderUnavailable"
        assert [attempt["failover.endpoint"] for attempt in events(span, "attempt")] == [azure, aws]
        assert collected.value("failover.failovers", **{"from": azure, "to": aws, "operation": "put"}) == 1
        assert collected.value("failover.attempt.duration", endpoint=azure, operation="put", outcome="error") == 1
        assert collected.value("failover.attempt.duration", endpoint=aws, operation="put", outcome="ok") == 1
        assert collected.value("failover.attempt.duration", endpoint=aws, operation="get", outcome="ok") == 1
        assert collected.value("failover.attempt.duration", endpoint=azure, operation="get") == 0, (
            "a DOWN store was read"
        )
        assert collected.value("failover.circuit.state", endpoint=azure, state="down") == 1
        assert collected.value("failover.journal.backlog", store=azure) == 1
    finally:
        storage.close()
        collected.shutdown()

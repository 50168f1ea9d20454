"""The ``[telemetry]`` table: whether `from_config` instruments what it builds (see `failover.telemetry`).

::

    [telemetry]
    enabled = true    # metrics and spans to OpenTelemetry's global providers (needs failover[otel])
    traces = false    # metrics only

The application still configures the OpenTelemetry SDK and its exporters; without one, the API's
no-op providers record nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TelemetryConfig"]


class TelemetryConfig(BaseModel):
    """Whether `FailoverStorage.from_config` and `FailoverQueue.from_config` call `failover.telemetry.instrument`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False, description="Report metrics (and spans) to OpenTelemetry's global providers; needs failover[otel]."
    )
    traces: bool = Field(True, description="A span per call, with its attempts and failovers as events.")

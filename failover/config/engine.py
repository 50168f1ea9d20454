"""How calls are timed, retried, routed and watched: the ``[engine]`` table, as pydantic models.

Each model builds the engine's own policy object (`EngineSettings`, `HealthPolicy`, `HedgePolicy`,
...) anew on every call of its ``build`` method, so two wrappers built from one configuration share
no mutable state (a hedge budget, say). The defaults are the engine's own: a field left out keeps
the library's default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from failover.engine import EngineSettings
from failover.health.probes import ProbeBackoff
from failover.health.registry import DegradedPolicy
from failover.health.tracker import HealthPolicy
from failover.routing import HedgePolicy

__all__ = ["DegradedConfig", "EngineConfig", "HealthConfig", "HedgeConfig", "ProbeConfig"]

_ENGINE = EngineSettings()
_HEALTH = HealthPolicy()
_DEGRADED = DegradedPolicy()
_BACKOFF = ProbeBackoff()
_HEDGE = HedgePolicy()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class HealthConfig(_Section):
    """When an endpoint's circuit opens and closes."""

    consecutive_failures: int = Field(
        _HEALTH.consecutive_failures, ge=1, description="Failures in a row that open the circuit."
    )
    failure_ratio: float = Field(
        _HEALTH.failure_ratio, gt=0, le=1, description="Share of failed calls in the window that opens it."
    )
    min_calls: int = Field(_HEALTH.min_calls, ge=1, description="Calls in the window before the ratio counts.")
    window: float = Field(_HEALTH.window, gt=0, description="Seconds the failure ratio looks back.")
    trial_calls: int = Field(_HEALTH.trial_calls, ge=1, description="Calls let through at once while PROBING.")
    close_after: int = Field(_HEALTH.close_after, ge=1, description="Trial successes in a row that close it.")

    def build(self) -> HealthPolicy:
        return HealthPolicy(
            consecutive_failures=self.consecutive_failures,
            failure_ratio=self.failure_ratio,
            min_calls=self.min_calls,
            window=self.window,
            trial_calls=self.trial_calls,
            close_after=self.close_after,
        )


class DegradedConfig(_Section):
    """When a slow endpoint (a brownout) is demoted behind its peers."""

    enabled: bool = Field(_DEGRADED.enabled, description="Demote endpoints far slower than their peers.")
    factor: float = Field(_DEGRADED.factor, ge=1, description="Slower than this times the best peer: DEGRADED.")
    recover_factor: float = Field(
        _DEGRADED.recover_factor, ge=1, description="Back under this times the best peer: HEALTHY again."
    )
    floor: float = Field(_DEGRADED.floor, ge=0, description="Seconds of latency below which nothing is demoted.")
    min_samples: int = Field(_DEGRADED.min_samples, ge=1, description="Successes before latency is compared.")
    hold: float = Field(_DEGRADED.hold, gt=0, description="Seconds DEGRADED before it is measured again.")

    def build(self) -> DegradedPolicy:
        return DegradedPolicy(
            factor=self.factor,
            floor=self.floor,
            recover_factor=self.recover_factor,
            min_samples=self.min_samples,
            hold=self.hold,
            enabled=self.enabled,
        )


class ProbeConfig(_Section):
    """How a DOWN endpoint is asked whether it is back."""

    timeout: float = Field(_ENGINE.probe_timeout, gt=0, description="Seconds a probe may take.")
    backoff_base: float = Field(_BACKOFF.base, gt=0, description="Seconds before the first probe.")
    backoff_cap: float = Field(_BACKOFF.cap, gt=0, description="Longest pause between probes, in seconds.")
    jitter: float = Field(_BACKOFF.jitter, ge=0, lt=1, description="Share of each pause taken off at random.")

    def build(self) -> ProbeBackoff:
        return ProbeBackoff(base=self.backoff_base, cap=self.backoff_cap, jitter=self.jitter)


class HedgeConfig(_Section):
    """Hedged reads: a second read sent when the first is slow, within a budget."""

    delay: Literal["p95"] | float = Field(
        "p95", description='Seconds to wait before hedging, or "p95": the first endpoint\'s p95 latency.'
    )
    budget_ratio: float = Field(0.05, ge=0, le=1, description="Extra reads allowed, as a share of reads.")
    min_delay: float = Field(_HEDGE.min_delay, ge=0, description="Shortest hedge delay, in seconds.")
    max_delay: float = Field(_HEDGE.max_delay, ge=0, description="Longest hedge delay, in seconds.")
    max_hedges: int = Field(_HEDGE.max_hedges, ge=0, description="Extra reads one call may send.")

    def build(self) -> HedgePolicy:
        """A new policy, with a budget of its own."""
        return HedgePolicy(
            self.delay,
            self.budget_ratio,
            min_delay=self.min_delay,
            max_delay=self.max_delay,
            max_hedges=self.max_hedges,
        )


class EngineConfig(_Section):
    """Deadlines, retries, routing, hedging, health and probes of one failover group."""

    deadline: float = Field(
        _ENGINE.deadline, gt=0, le=3600, description="Seconds a whole call may take, failovers included."
    )
    attempt_timeout: float | None = Field(
        _ENGINE.attempt_timeout,
        gt=0,
        le=600,
        description="Seconds one attempt on any endpoint may take; absent: each endpoint's read_timeout.",
    )
    max_attempts: int = Field(_ENGINE.max_attempts, ge=1, le=10, description="Attempts per endpoint, the first too.")
    retry_base: float = Field(_ENGINE.retry_base, gt=0, description="Seconds of the first retry's backoff.")
    retry_cap: float = Field(_ENGINE.retry_cap, gt=0, description="Longest retry backoff, in seconds.")
    routing: Literal["priority", "latency"] = Field(
        _ENGINE.routing, description="priority: the first available endpoint; latency: the fastest."
    )
    hedge: HedgeConfig | None = Field(None, description="Hedged reads; absent: no hedging.")
    health: HealthConfig = Field(HealthConfig(), description="When circuits open and close.")
    degraded: DegradedConfig = Field(DegradedConfig(), description="Brownout detection.")
    probe: ProbeConfig = Field(ProbeConfig(), description="Probes of DOWN endpoints.")

    def build(self) -> EngineSettings:
        """The engine's settings, with policy objects of their own."""
        return EngineSettings(
            deadline=self.deadline,
            attempt_timeout=self.attempt_timeout,
            max_attempts=self.max_attempts,
            retry_base=self.retry_base,
            retry_cap=self.retry_cap,
            routing=self.routing,
            hedge=self.hedge.build() if self.hedge is not None else None,
            health=self.health.build(),
            degraded=self.degraded.build(),
            probe_timeout=self.probe.timeout,
            probe_backoff=self.probe.build(),
        )

    def merged(self, overrides: EngineConfig | None) -> EngineConfig:
        """This configuration with the fields ``overrides`` sets (a section's own ``[*.engine]``)."""
        if overrides is None:
            return self
        data = self.model_dump(exclude_unset=True)
        for name, value in overrides.model_dump(exclude_unset=True).items():
            base = data.get(name)
            data[name] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
        return EngineConfig.model_validate(data)

"""The ``[storage]`` and ``[queue]`` tables: how a `FailoverStorage` writes and a `FailoverQueue` delivers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from failover.config.engine import EngineConfig

__all__ = [
    "DEFAULT_ACK_RETRY_INTERVAL",
    "DEFAULT_CLAIM_GIVE_UP",
    "DEFAULT_DEDUP_TTL",
    "DEFAULT_DRAIN_INTERVAL",
    "QueueSection",
    "StorageSection",
]

DEFAULT_DEDUP_TTL = 86_400.0
"""Seconds a dedup window remembers a failover_id."""
DEFAULT_DRAIN_INTERVAL = 10.0
"""Seconds between sweeps that drain every queue once (messages other processes sent there)."""
DEFAULT_ACK_RETRY_INTERVAL = 1.0
"""Seconds between background retries of acks the delivering queue could not take."""
DEFAULT_CLAIM_GIVE_UP = 10
"""Deliveries of a message whose claim-check body no store holds before it is acked (with an error log)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class StorageSection(_Section):
    """The write mode, the journal and replication of the `FailoverStorage` over ``[stores.*]``."""

    mode: Literal["primary", "mirror"] = Field(
        "primary",
        description="primary: write one store, replicate in the background; mirror: write all, ack at the quorum.",
    )
    write_quorum: int | None = Field(
        None, ge=1, description="Mirror mode: stores that must have a write before it is acknowledged."
    )
    journal: Path | None = Field(
        None,
        description="The SQLite journal of pending copies; absent: a file under the state directory "
        "named after the stores, so that a restart finds it again.",
    )
    writer_id: str | None = Field(None, description="This writer's id in version stamps; absent: a random one.")
    replicate: bool = Field(True, description="Copy journaled writes to the other stores in the background.")
    engine: EngineConfig | None = Field(None, description="Engine settings for storage only, over [engine].")


class QueueSection(_Section):
    """Dedup, claim-check and draining of the `FailoverQueue` over ``[queues.*]``."""

    dedup: bool | Path = Field(
        False,
        description="A durable dedup window, so a message re-sent around a failover is handed out once: "
        "true for a file under the state directory (with [fleet]: the fleet's shared window), or its path.",
    )
    dedup_ttl: float = Field(DEFAULT_DEDUP_TTL, gt=0, description="Seconds a delivered message id is remembered.")
    claim_check: bool = Field(
        False, description="Bodies too large for a queue of the set go to the [stores.*] storage; the message points."
    )
    drain_interval: float | None = Field(
        DEFAULT_DRAIN_INTERVAL, gt=0, description="Seconds between receives from every queue (what others sent)."
    )
    ack_retry_interval: float | None = Field(
        DEFAULT_ACK_RETRY_INTERVAL,
        gt=0,
        description="Seconds between background retries of acks a down queue could not take.",
    )
    claim_give_up: int = Field(
        DEFAULT_CLAIM_GIVE_UP,
        ge=1,
        description="Deliveries of a message whose claim-check body no store has before it is dropped.",
    )
    engine: EngineConfig | None = Field(None, description="Engine settings for queues only, over [engine].")

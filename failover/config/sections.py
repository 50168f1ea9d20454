"""The ``[storage]`` and ``[queue]`` tables: how a `FailoverStorage` writes and a `FailoverQueue` delivers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from failover.config.engine import EngineConfig

__all__ = ["QueueSection", "StorageSection"]

DEFAULT_DEDUP_TTL = 86_400.0
DEFAULT_DRAIN_INTERVAL = 10.0


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
        "true for a file under the state directory, or its path.",
    )
    dedup_ttl: float = Field(DEFAULT_DEDUP_TTL, gt=0, description="Seconds a delivered message id is remembered.")
    claim_check: bool = Field(
        False, description="Bodies too large for a queue of the set go to the [stores.*] storage; the message points."
    )
    drain_interval: float | None = Field(
        DEFAULT_DRAIN_INTERVAL, gt=0, description="Seconds between receives from every queue (what others sent)."
    )
    engine: EngineConfig | None = Field(None, description="Engine settings for queues only, over [engine].")

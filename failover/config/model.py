"""`FailoverConfig`: the whole setup, stores and queues by name, with the engine and both wrappers.

In TOML (``load_config`` reads it; every table is optional)::

    [engine]                  # deadlines, retries, routing, hedging, health, probes
    deadline = 10

    [storage]                 # the FailoverStorage over [stores.*]
    mode = "mirror"

    [stores.aws]              # stores in order of preference; the table's name addresses it
    kind = "s3"
    bucket = "orders"

    [stores.gcp]
    kind = "gcs"
    bucket = "orders-dr"

    [queue]                   # the FailoverQueue over [queues.*]
    dedup = true

    [queues.aws]
    kind = "sqs"
    queue = "jobs"

    [[boto3.buckets]]         # the boto3 drop-in (failover.compat): buckets and queues by pattern
    match = "*"
    stores = { gcp = "dr-{bucket}" }

    [telemetry]               # metrics and spans through OpenTelemetry (failover.telemetry)
    enabled = true

Store and queue names are lower-case identifiers, so that an environment variable can address each
one: ``FAILOVER__STORES__AWS__REGION=eu-west-1``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from failover.compat.config import Boto3Config
from failover.config.endpoints import QueueConfig, StoreConfig
from failover.config.engine import EngineConfig
from failover.config.sections import QueueSection, StorageSection
from failover.crypto.config import EncryptionConfig
from failover.fleet.config import FleetConfig
from failover.telemetry.config import TelemetryConfig

__all__ = ["ENV_NESTED_DELIMITER", "ENV_PREFIX", "FailoverConfig"]

ENV_PREFIX = "FAILOVER__"
ENV_NESTED_DELIMITER = "__"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


class FailoverConfig(BaseSettings):
    """Stores and queues, in order of preference, and how the engine and both wrappers behave.

    Built in Python it holds what it is given (no environment is read); `load_config` adds the TOML
    file, a ``.env`` file and ``FAILOVER__*`` variables.
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
    )

    state_dir: Path | None = Field(
        None,
        description="Where default journals and dedup windows live; else FAILOVER_STATE_DIR, "
        "else $XDG_STATE_HOME/failover or ~/.local/state/failover.",
    )
    engine: EngineConfig = Field(EngineConfig(), description="Shared by storage and queues.")
    storage: StorageSection = Field(StorageSection(), description="The FailoverStorage.")
    stores: dict[str, StoreConfig] = Field(default_factory=dict, description="Stores by name, in order.")
    queue: QueueSection = Field(QueueSection(), description="The FailoverQueue.")
    queues: dict[str, QueueConfig] = Field(default_factory=dict, description="Queues by name, in order.")
    encryption: EncryptionConfig | None = Field(
        None, description="Master keys for EncryptedStorage and EncryptedQueue (failover.crypto)."
    )
    boto3: Boto3Config = Field(Boto3Config(), description="The boto3 drop-in: buckets and queues mapped by pattern.")
    fleet: FleetConfig | None = Field(
        None,
        description="A PostgreSQL schema shared by every process of a fleet: its journal and dedup "
        "windows replace the local SQLite ones (needs failover[postgres]).",
    )
    telemetry: TelemetryConfig = Field(
        TelemetryConfig(), description="Metrics and spans through OpenTelemetry (failover.telemetry)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller passes: `load_config` is where files and the environment come in.
        return (init_settings,)

    @field_validator("stores", "queues", mode="before")
    @classmethod
    def _by_name(cls, value: Any) -> Any:
        # A list is accepted too (Python callers, the order is kept): each entry is named by its
        # `name` when that is an identifier, else by its kind, numbered when a kind repeats.
        if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str | bytes):
            return value
        named: dict[str, Any] = {}
        for entry in value:
            fields = entry if isinstance(entry, Mapping) else entry.__dict__ if isinstance(entry, BaseModel) else {}
            name = str(fields.get("name") or "")
            if not _NAME.fullmatch(name):
                name = str(fields.get("kind") or "endpoint")
            unique, number = name, 2
            while unique in named:
                unique, number = f"{name}_{number}", number + 1
            named[unique] = entry
        return named

    @field_validator("stores", "queues")
    @classmethod
    def _names_are_identifiers(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a lower-case identifier (a letter, then letters, digits, _; at most "
                    "63): an environment variable could not address it"
                )
        return value

    def storage_engine(self) -> EngineConfig:
        """The engine settings of the storage: ``[engine]`` with ``[storage.engine]`` over it."""
        return self.engine.merged(self.storage.engine)

    def queue_engine(self) -> EngineConfig:
        """The engine settings of the queues: ``[engine]`` with ``[queue.engine]`` over it."""
        return self.engine.merged(self.queue.engine)

"""Configuration: pydantic models for the endpoints, the engine and both wrappers; one file loads them all.

`load_config` reads a TOML file (``$FAILOVER_CONFIG`` when no path is given), an optional ``.env``
file and ``FAILOVER__*`` variables (pydantic-settings, ``__`` between the parts of a path) into a
`FailoverConfig`. Secrets are `SecretStr`: no repr, str or log line shows them. A bad value raises
`ConfigError` naming the field and the reason, never the value. The README's settings table is
generated from these models (`failover.config.reference`).
"""

from failover.config._parse import parse_config
from failover.config.endpoints import (
    AzureBlobConfig,
    AzureQueueConfig,
    GcsConfig,
    PubSubConfig,
    QueueConfig,
    S3Config,
    SqsConfig,
    StoreConfig,
)
from failover.config.engine import DegradedConfig, EngineConfig, HealthConfig, HedgeConfig, ProbeConfig
from failover.config.loading import CONFIG_PATH_VARIABLE, load_config
from failover.config.model import ENV_PREFIX, FailoverConfig
from failover.config.sections import QueueSection, StorageSection

__all__ = [
    "CONFIG_PATH_VARIABLE",
    "ENV_PREFIX",
    "AzureBlobConfig",
    "AzureQueueConfig",
    "DegradedConfig",
    "EngineConfig",
    "FailoverConfig",
    "GcsConfig",
    "HealthConfig",
    "HedgeConfig",
    "ProbeConfig",
    "PubSubConfig",
    "QueueConfig",
    "QueueSection",
    "S3Config",
    "SqsConfig",
    "StorageSection",
    "StoreConfig",
    "load_config",
    "parse_config",
]

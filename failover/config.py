"""Configuration: one pydantic model per adapter, loadable from a TOML file and the environment.

A TOML file lists stores and queues, each with its ``kind``::

    [[storage]]
    kind = "s3"
    bucket = "orders"
    region = "us-east-1"

    [[storage]]
    kind = "gcs"
    bucket = "orders-replica"

Environment variables override or complete it, with ``__`` between the parts of a path:
``FAILOVER__STORAGE__0__SECRET_ACCESS_KEY=...`` sets that field of the first store. The file itself
is named by ``FAILOVER_CONFIG`` when no path is given. Secrets are `SecretStr`: no repr, str or log
line shows them. A bad value raises `ConfigError` naming the field and the reason.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from failover.errors import ConfigError

__all__ = [
    "AzureBlobConfig",
    "AzureQueueConfig",
    "FailoverConfig",
    "GcsConfig",
    "PubSubConfig",
    "QueueConfig",
    "S3Config",
    "SqsConfig",
    "StoreConfig",
    "load_config",
    "parse_config",
]

ENV_PREFIX = "FAILOVER__"
ENV_FILE = "FAILOVER_CONFIG"
_NAME = Field(min_length=3, max_length=255, description="Every provider and emulator needs 3 or more characters.")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str | None = Field(
        None, description="This endpoint's name in logs, metrics and health; defaults to kind:bucket."
    )
    connect_timeout: float = Field(2.0, gt=0, le=60, description="Seconds to open a connection.")
    read_timeout: float = Field(10.0, gt=0, le=600, description="Seconds to wait for an answer (the attempt timeout).")


class _AwsCredentials(_Base):
    region: str = Field("us-east-1", description="AWS region.")
    endpoint_url: str | None = Field(None, description="Endpoint override (moto, MinIO, a VPC endpoint).")
    access_key_id: SecretStr | None = Field(None, description="Else the SDK's default chain.")
    secret_access_key: SecretStr | None = Field(None, description="Else the SDK's default chain.")
    session_token: SecretStr | None = None

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> _AwsCredentials:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key are given together or not at all")
        return self


class _AzureCredentials(_Base):
    account_url: str | None = Field(None, description="https://ACCOUNT.blob.core.windows.net or an emulator.")
    connection_string: SecretStr | None = Field(None, description="Instead of account_url and key.")
    account_key: SecretStr | None = Field(None, description="Shared key; else DefaultAzureCredential.")

    @model_validator(mode="after")
    def _one_way_to_connect(self) -> _AzureCredentials:
        if (self.connection_string is None) == (self.account_url is None):
            raise ValueError("give either connection_string or account_url")
        return self


class S3Config(_AwsCredentials):
    kind: Literal["s3"] = "s3"
    bucket: str = _NAME
    multipart_threshold: int = Field(
        8 * 1024 * 1024, ge=5 * 1024 * 1024, description="Bytes; larger objects go in parts."
    )
    multipart_chunksize: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024, description="Bytes a part.")
    max_concurrency: int = Field(2, ge=1, le=32, description="Parts in flight at once (each held in memory).")
    ensure: bool = Field(False, description="Create the bucket when missing (development and tests).")


class GcsConfig(_Base):
    kind: Literal["gcs"] = "gcs"
    bucket: str = _NAME
    project: str | None = Field(None, description="Else the SDK's default.")
    endpoint_url: str | None = Field(None, description="Endpoint override (fake-gcs-server).")
    credentials_file: Path | None = Field(None, description="Service account JSON; else the default chain.")
    anonymous: bool = Field(False, description="No credentials (emulators).")
    chunk_size: int = Field(8 * 1024 * 1024, ge=256 * 1024, description="Bytes a resumable-upload chunk.")
    ensure: bool = Field(False, description="Create the bucket when missing (development and tests).")


class AzureBlobConfig(_AzureCredentials):
    kind: Literal["azure_blob"] = "azure_blob"
    container: str = _NAME
    block_size: int = Field(4 * 1024 * 1024, ge=64 * 1024, description="Bytes a staged block.")
    max_concurrency: int = Field(2, ge=1, le=32, description="Blocks in flight at once.")
    ensure: bool = Field(False, description="Create the container when missing (development and tests).")


class SqsConfig(_AwsCredentials):
    kind: Literal["sqs"] = "sqs"
    queue: str = _NAME
    fifo: bool = Field(False, description="A FIFO queue (its name ends in .fifo).")
    ensure: bool = Field(False, description="Create the queue when missing (development and tests).")


class PubSubConfig(_Base):
    kind: Literal["pubsub"] = "pubsub"
    project: str = _NAME
    topic: str = _NAME
    subscription: str = _NAME
    endpoint: str | None = Field(None, description="host:port of an emulator; else Google's endpoint.")
    credentials_file: Path | None = None
    ack_deadline: int = Field(30, ge=10, le=600, description="Seconds; the subscription's default visibility.")
    max_batch_messages: int = Field(1, ge=1, le=1000, description="Publisher batching (1: no delay).")
    ensure: bool = Field(False, description="Create the topic and subscription when missing.")


class AzureQueueConfig(_AzureCredentials):
    kind: Literal["azure_queue"] = "azure_queue"
    queue: str = _NAME
    ensure: bool = Field(False, description="Create the queue when missing.")
    poll_interval: float = Field(0.2, gt=0, le=10, description="First pause between polls inside a wait.")


StoreConfig = Annotated[S3Config | GcsConfig | AzureBlobConfig, Field(discriminator="kind")]
QueueConfig = Annotated[SqsConfig | PubSubConfig | AzureQueueConfig, Field(discriminator="kind")]


class FailoverConfig(BaseModel):
    """Stores and queues, in order of preference."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    storage: list[StoreConfig] = Field(default_factory=list)
    queues: list[QueueConfig] = Field(default_factory=list)


M = TypeVar("M", bound=BaseModel)


def parse_config(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate ``data`` as ``model``; a bad value raises `ConfigError` naming the field."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or model.__name__
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or model.__name__}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"invalid {model.__name__}: {reasons}", field=field) from None


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> FailoverConfig:
    """Read a `FailoverConfig` from a TOML file (or ``$FAILOVER_CONFIG``) and ``FAILOVER__*`` variables."""
    env = os.environ if env is None else env
    path = path if path is not None else env.get(ENV_FILE)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}", field=ENV_FILE) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}", field=ENV_FILE) from None
    for name, value in sorted(env.items()):
        if name.startswith(ENV_PREFIX):
            _set_path(data, name[len(ENV_PREFIX) :].lower().split("__"), value, name)
    return parse_config(FailoverConfig, data)


def _set_path(data: dict[str, Any], parts: list[str], value: str, variable: str) -> None:
    if len(parts) != 3 or not parts[1].isdigit() or parts[0] not in ("storage", "queues"):
        raise ConfigError(
            f"{variable} is not of the form {ENV_PREFIX}STORAGE__<n>__<FIELD> or {ENV_PREFIX}QUEUES__<n>__<FIELD>",
            field=variable,
        )
    section, index, field = parts[0], int(parts[1]), parts[2]
    entries: list[dict[str, Any]] = data.setdefault(section, [])
    while len(entries) <= index:
        entries.append({})
    entries[index][field] = value

"""The endpoints: one pydantic model per adapter, each naming one bucket or queue on one provider.

Region, project and credentials that a model leaves out come from each SDK's own chain, as they do
for a plain boto3, google-cloud or azure client: ``AWS_REGION``/``AWS_PROFILE`` and the shared
config files, ``GOOGLE_CLOUD_PROJECT`` and Application Default Credentials, ``DefaultAzureCredential``.
Secrets are `SecretStr`: no repr, str or log line shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "AzureBlobConfig",
    "AzureQueueConfig",
    "GcsConfig",
    "PubSubConfig",
    "QueueConfig",
    "S3Config",
    "SqsConfig",
    "StoreConfig",
]

_NAME = Field(min_length=3, max_length=255, description="The provider's name for it (3 to 255 characters).")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str | None = Field(
        None, description="This endpoint's name in logs, metrics and health; defaults to kind:bucket."
    )
    connect_timeout: float = Field(2.0, gt=0, le=60, description="Seconds to open a connection.")
    read_timeout: float = Field(
        3.0,
        gt=0,
        le=600,
        description="Seconds to wait for an answer: the attempt timeout, unless engine.attempt_timeout is set.",
    )


class _AwsCredentials(_Base):
    region: str | None = Field(
        None, description="AWS region; else boto3's chain (AWS_DEFAULT_REGION, the profile's), then AWS_REGION."
    )
    profile: str | None = Field(None, description="A profile of the shared AWS config files; else the default.")
    endpoint_url: str | None = Field(None, description="Endpoint override (moto, MinIO, a VPC endpoint).")
    access_key_id: SecretStr | None = Field(None, description="Else the SDK's default chain.")
    secret_access_key: SecretStr | None = Field(None, description="Else the SDK's default chain.")
    session_token: SecretStr | None = Field(None, description="With temporary access keys.")

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> _AwsCredentials:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key are given together or not at all")
        if self.profile is not None and self.access_key_id is not None:
            raise ValueError("give a profile or access keys, not both")
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
    project: str | None = Field(
        None, min_length=3, max_length=255, description="Else GOOGLE_CLOUD_PROJECT, then the ADC project."
    )
    topic: str = _NAME
    subscription: str = _NAME
    endpoint: str | None = Field(None, description="host:port of an emulator; else Google's endpoint.")
    credentials_file: Path | None = Field(None, description="Service account JSON; else the default chain.")
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

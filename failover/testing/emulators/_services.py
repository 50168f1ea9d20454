"""The four local clouds: moto (S3, SQS), fake-gcs-server (GCS), Azurite (Blob, Queue), Pub/Sub.

Each builds the configuration models of `failover.config` pointed at itself, with test credentials,
``ensure=True`` (tests create what they use) and short timeouts, so a test writes
``clouds.aws.s3_config(name)`` and nothing else. Keyword overrides replace any field.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from failover.config import (
    AzureBlobConfig,
    AzureQueueConfig,
    GcsConfig,
    PubSubConfig,
    S3Config,
    SqsConfig,
    parse_config,
)
from failover.testing.emulators._base import Emulator
from failover.testing.emulators._system import HOST, ReadyCheck, http_open
from failover.testing.emulators._tools import (
    EmulatorError,
    find_azurite,
    find_fake_gcs_server,
    find_moto_server,
    find_pubsub_emulator,
)

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "TEST_PROJECT",
    "Azurite",
    "FakeGcsServer",
    "MotoServer",
    "PubSubEmulator",
]

TEST_PROJECT = "test-project"
# Azurite's documented development account; public, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_TEST_TIMEOUTS = {"connect_timeout": 2.0, "read_timeout": 10.0}

M = TypeVar("M", bound=BaseModel)


def _config(model: type[M], defaults: dict[str, Any], overrides: dict[str, Any]) -> M:
    return parse_config(model, {**_TEST_TIMEOUTS, "ensure": True, **defaults, **overrides})


class MotoServer(Emulator):
    """S3 and SQS, from moto's server mode."""

    name = "moto"

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports[0]}"

    def _command(self, ports: tuple[int, ...], workdir: Path) -> list[str]:
        return [*find_moto_server(), "-H", HOST, "-p", str(ports[0])]

    def _ready_checks(self, ports: tuple[int, ...]) -> list[ReadyCheck]:
        return [ReadyCheck(f"http://{HOST}:{ports[0]}/moto-api/")]

    def reset(self) -> None:
        """Forget every bucket, object and queue."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        try:
            with http_open(request, timeout=10) as answer:
                answer.read()
        except OSError as exc:
            raise EmulatorError(f"moto reset failed: {exc}") from exc

    def _aws(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint,
            "region": "us-east-1",
            "access_key_id": "testing",
            "secret_access_key": "testing",
        }

    def s3_config(self, bucket: str, **overrides: Any) -> S3Config:
        return _config(S3Config, {**self._aws(), "bucket": bucket}, overrides)

    def sqs_config(self, queue: str, **overrides: Any) -> SqsConfig:
        return _config(SqsConfig, {**self._aws(), "queue": queue}, overrides)


class FakeGcsServer(Emulator):
    """GCS, from fake-gcs-server with its in-memory backend.

    Clients must run with ``DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA=true``; otherwise the GCS
    client sends hidden background requests that the emulator logs and tests trip over.
    """

    name = "fake-gcs-server"

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports[0]}"

    def _command(self, ports: tuple[int, ...], workdir: Path) -> list[str]:
        url = f"http://{HOST}:{ports[0]}"
        return [
            *find_fake_gcs_server(),
            *("-scheme", "http", "-backend", "memory", "-host", HOST, "-port", str(ports[0])),
            # Resumable uploads are continued at the external URL; the default is not this port.
            *("-external-url", url),
        ]

    def _ready_checks(self, ports: tuple[int, ...]) -> list[ReadyCheck]:
        return [ReadyCheck(f"http://{HOST}:{ports[0]}/storage/v1/b")]

    def gcs_config(self, bucket: str, **overrides: Any) -> GcsConfig:
        defaults = {"bucket": bucket, "endpoint_url": self.endpoint, "project": TEST_PROJECT, "anonymous": True}
        return _config(GcsConfig, defaults, overrides)


class Azurite(Emulator):
    """Azure Blob and Queue Storage (and Table, on a port of its own that nothing uses)."""

    name = "azurite"
    port_count = 3  # blob, queue, table: the combined command always starts the table service

    def __init__(self, *, extent_memory_limit_mb: int = 512, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # In-memory Azurite may otherwise take half the machine's RAM for blob contents.
        self.extent_memory_limit_mb = extent_memory_limit_mb

    @property
    def blob_endpoint(self) -> str:
        return f"http://{HOST}:{self.ports[0]}/{AZURITE_ACCOUNT}"

    @property
    def queue_endpoint(self) -> str:
        return f"http://{HOST}:{self.ports[1]}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.blob_endpoint};QueueEndpoint={self.queue_endpoint};"
        )

    def _command(self, ports: tuple[int, ...], workdir: Path) -> list[str]:
        blob, queue, table = ports
        return [
            *find_azurite(),
            *("--blobHost", HOST, "--queueHost", HOST, "--tableHost", HOST),
            *("--blobPort", str(blob), "--queuePort", str(queue), "--tablePort", str(table)),
            *("--inMemoryPersistence", "--extentMemoryLimit", str(self.extent_memory_limit_mb)),
            # No --location (Azurite refuses it with --inMemoryPersistence): the working directory is a temp dir.
            *("--silent", "--disableTelemetry", "--skipApiVersionCheck"),
        ]

    def _ready_checks(self, ports: tuple[int, ...]) -> list[ReadyCheck]:
        # Any HTTP answer will do: Azurite answers an unsigned GET with 400, which means it serves.
        return [ReadyCheck(f"http://{HOST}:{port}/{AZURITE_ACCOUNT}", any_status=True) for port in ports[:2]]

    def azure_blob_config(self, container: str, **overrides: Any) -> AzureBlobConfig:
        return _config(
            AzureBlobConfig, {"container": container, "connection_string": self.connection_string}, overrides
        )

    def azure_queue_config(self, queue: str, **overrides: Any) -> AzureQueueConfig:
        return _config(AzureQueueConfig, {"queue": queue, "connection_string": self.connection_string}, overrides)


class PubSubEmulator(Emulator):
    """Pub/Sub, from Google's emulator (a JVM; the slowest of the four to start)."""

    name = "pubsub"

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the form ``PUBSUB_EMULATOR_HOST`` and `PubSubConfig.endpoint` take."""
        return f"{HOST}:{self.ports[0]}"

    def _command(self, ports: tuple[int, ...], workdir: Path) -> list[str]:
        # The launcher execs java, so the process we signal is the JVM itself.
        return [*find_pubsub_emulator(), f"--host={HOST}", f"--port={ports[0]}"]

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        # A small serial-GC heap: the emulator holds a few test messages, and the box has 2 cores to share.
        env.setdefault("CLOUD_PUBSUB_EMULATOR_OPTS", "-XX:+UseSerialGC -Xms64m -Xmx512m")
        env.pop("PUBSUB_EMULATOR_HOST", None)
        return env

    def _ready_checks(self, ports: tuple[int, ...]) -> list[ReadyCheck]:
        return [ReadyCheck(f"http://{HOST}:{ports[0]}/")]

    def pubsub_config(self, name: str, **overrides: Any) -> PubSubConfig:
        defaults = {"project": TEST_PROJECT, "topic": name, "subscription": f"{name}-sub", "endpoint": self.host}
        return _config(PubSubConfig, defaults, overrides)

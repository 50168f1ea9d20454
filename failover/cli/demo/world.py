"""The demo's world: local clouds, AWS behind a host name that can stop resolving, and the failover layer.

S3 and SQS (moto) are reached as ``localhost.aws.failover.test``, a name `DnsFaults` resolves to the
loopback address until `DemoWorld.cut_aws` makes it fail, as the October 2025 outage looked to
clients. moto reads a bucket name from the Host of any dotted name unless it starts with
"localhost", hence the name. Between the name and moto sits a `FaultProxy` that passes everything:
a DNS failure does not close connections already open in the SDKs' pools, so the cut also drops
those, as a server does with idle connections.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from failover.cli.demo.metered import MeteredQueue, MeteredStore
from failover.cli.demo.metrics import Recorder
from failover.engine import EngineSettings
from failover.health import ProbeBackoff
from failover.interfaces import MessageQueue, ObjectStore
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy

__all__ = ["AWS_HOST", "SERVICES", "DemoWorld", "Endpoints"]

AWS_HOST: Final = "localhost.aws.failover.test"
# Pub/Sub is left out: its emulator (a JVM) is the slowest and heaviest to start, and one secondary
# queue (Azure) tells the story.
SERVICES: Final = ("aws", "gcs", "azure")
NAME: Final = "failover-demo"

# Short timeouts, so that a cut-off provider costs a call a fraction of a second, and quick probes,
# so that the restored provider is found within a second or so.
TIMEOUTS: Final[dict[str, Any]] = {"connect_timeout": 0.5, "read_timeout": 2.0}
SETTINGS: Final = EngineSettings(
    deadline=8.0,
    attempt_timeout=2.0,
    probe_timeout=1.0,
    probe_backoff=ProbeBackoff(base=0.25, cap=1.0, jitter=0.1),
)


@dataclass(frozen=True)
class Endpoints:
    """The metered adapters by role, as FailoverStorage and FailoverQueue name them."""

    s3: MeteredStore
    gcs: MeteredStore
    blob: MeteredStore
    sqs: MeteredQueue
    azure_queue: MeteredQueue

    @property
    def stores(self) -> list[MeteredStore]:
        return [self.s3, self.gcs, self.blob]

    @property
    def queues(self) -> list[MeteredQueue]:
        return [self.sqs, self.azure_queue]

    @property
    def aws(self) -> list[str]:
        return [self.s3.name, self.sqs.name]


class DemoWorld:
    """Starts everything in `__enter__` and stops it in `__exit__`, in reverse order.

    ``storage`` mirrors every write to S3, GCS and Azure Blob and acknowledges it once two hold it
    (``write_quorum=2``): whichever one provider is cut off, every acknowledged object is readable
    from another at once. In primary mode an object written a moment before the cut would be on S3
    alone, and reading it would rightly raise StaleReadRisk until AWS came back.
    """

    def __init__(self, workdir: Path, recorder: Recorder) -> None:
        self.workdir = workdir
        self.recorder = recorder
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        # Else the GCS client sends hidden background bucket requests to the emulator.
        os.environ.setdefault("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
        with contextlib.ExitStack() as stack:
            self.clouds = stack.enter_context(LocalClouds(SERVICES, log_dir=self.workdir / "logs"))
            self.proxy = stack.enter_context(FaultProxy.in_front_of(self.clouds.aws.endpoint))
            self.dns = stack.enter_context(DnsFaults())
            self.dns.alias(AWS_HOST, "127.0.0.1")
            aws = f"http://{AWS_HOST}:{self.proxy.port}"
            with contextlib.ExitStack() as adapters:  # closed here only if FailoverStorage is not built
                s3, gcs, blob = self._stores(aws, adapters)
                self.storage = FailoverStorage(
                    [s3, gcs, blob],
                    mode="mirror",
                    write_quorum=2,
                    journal=self.workdir / "journal.sqlite",
                    settings=SETTINGS,
                    writer_id="demo",
                )
                adapters.pop_all()
            stack.callback(self.storage.close)
            self.storage.replicator.poll_interval = 0.2
            with contextlib.ExitStack() as adapters:
                sqs, azure_queue = self._queues(aws, adapters)
                self.queue = FailoverQueue([sqs, azure_queue], settings=SETTINGS, dedup=self.workdir / "dedup.sqlite")
                adapters.pop_all()
            stack.callback(self.queue.close)
            self.endpoints = Endpoints(s3, gcs, blob, sqs, azure_queue)
            for events in (self.storage.health.events, self.queue.engine.health.events):
                events.on_state_change.append(self.recorder.state_change)
                events.on_failover.append(self.recorder.failover)
            self._stack = stack.pop_all()
        return self

    def _stores(self, aws: str, adapters: contextlib.ExitStack) -> tuple[MeteredStore, MeteredStore, MeteredStore]:
        from failover.adapters.aws import S3Store
        from failover.adapters.azure import AzureBlobStore
        from failover.adapters.gcp import GcsStore

        def metered(inner: ObjectStore, label: str) -> MeteredStore:
            adapters.callback(inner.close)
            self.recorder.add_endpoint(inner.name, label, "storage")
            return MeteredStore(inner, self.recorder)

        clouds = self.clouds
        return (
            metered(S3Store(clouds.aws.s3_config(NAME, endpoint_url=aws, **TIMEOUTS)), "S3"),
            metered(GcsStore(clouds.gcs.gcs_config(NAME, **TIMEOUTS)), "GCS"),
            metered(AzureBlobStore(clouds.azure.azure_blob_config(NAME, **TIMEOUTS)), "Azure Blob"),
        )

    def _queues(self, aws: str, adapters: contextlib.ExitStack) -> tuple[MeteredQueue, MeteredQueue]:
        from failover.adapters.aws import SqsQueue
        from failover.adapters.azure import AzureQueue

        def metered(inner: MessageQueue, label: str) -> MeteredQueue:
            adapters.callback(inner.close)
            self.recorder.add_endpoint(inner.name, label, "queue")
            return MeteredQueue(inner, self.recorder)

        clouds = self.clouds
        return (
            metered(SqsQueue(clouds.aws.sqs_config(NAME, endpoint_url=aws, **TIMEOUTS)), "SQS"),
            metered(AzureQueue(clouds.azure.azure_queue_config(NAME, **TIMEOUTS)), "Azure Queue"),
        )

    def cut_aws(self) -> None:
        """AWS's host name stops resolving; connections already open are dropped."""
        self.dns.fail(AWS_HOST)
        self.proxy.set(Fault.refuse())
        self.proxy.clear()

    def restore_aws(self) -> None:
        self.dns.heal(AWS_HOST)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

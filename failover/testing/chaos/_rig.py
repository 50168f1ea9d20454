"""The providers of a chaos run, each behind fault proxies, and the switch that breaks and heals them.

One provider is broken as a whole, the way an outage looks to a client: AWS is S3 and SQS (moto),
each behind a `FaultProxy` and reached through host names that `DnsFaults` can make unresolvable;
GCP is GCS (fake-gcs-server) behind a proxy; Azure is Blob and Queue (Azurite), each behind a proxy.
The adapters the run uses go through the proxies; `Rig.direct_stores` and `Rig.direct_queues`
reach the emulators straight, for the final check.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any, Self

from failover.config import QueueConfig, StoreConfig
from failover.interfaces import MessageQueue, ObjectStore
from failover.testing.chaos._schedule import FaultKind
from failover.testing.emulators import AZURITE_ACCOUNT, AZURITE_KEY, LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy

__all__ = ["AWS_HOST", "Rig"]

AWS_HOST = "aws.chaos.test"
# moto reads a bucket name from the Host of any dotted name unless it starts with "localhost".
S3_HOST = f"localhost.{AWS_HOST}"
SQS_HOST = f"sqs.{AWS_HOST}"

_XML = {"Content-Type": "application/xml"}
_UNAVAILABLE: dict[str, Fault] = {
    "s3": Fault.http_status(
        503,
        body="<?xml version='1.0' encoding='UTF-8'?><Error><Code>ServiceUnavailable</Code>"
        "<Message>Service is unable to handle request.</Message></Error>",
        headers=_XML,
    ),
    "sqs": Fault.http_status(
        503,
        body=json.dumps({"__type": "com.amazonaws.sqs#ServiceUnavailable", "message": "Service Unavailable"}),
        headers={"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": "ServiceUnavailable;Sender"},
    ),
    "gcs": Fault.http_status(
        503,
        body=json.dumps({"error": {"code": 503, "message": "Service Unavailable", "errors": []}}),
        headers={"Content-Type": "application/json"},
    ),
    **dict.fromkeys(
        ("blob", "queue"),
        Fault.http_status(
            503,
            body='<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
            "<Message>The server is currently unable to receive requests.</Message></Error>",
            headers={**_XML, "x-ms-error-code": "ServerBusy"},
        ),
    ),
}
_PROXIES_OF = {"aws": ("s3", "sqs"), "gcp": ("gcs",), "azure": ("blob", "queue")}


class Rig:
    """The five proxies, the DNS aliases, and adapters of ``name`` (a bucket, container and queue name).

    ``timeouts`` are the adapters' ``connect_timeout`` and ``read_timeout``. `break_provider` and
    `heal` switch faults; `broken` says which providers are broken now. A context manager.
    """

    def __init__(self, clouds: LocalClouds, name: str, *, connect_timeout: float, read_timeout: float) -> None:
        self.clouds = clouds
        self.name = name
        self._timeouts = {"connect_timeout": connect_timeout, "read_timeout": read_timeout}
        azure_ports = clouds.azure.ports
        self.proxies: dict[str, FaultProxy] = {}
        self.dns = DnsFaults()
        self._broken: dict[str, FaultKind] = {}
        self._lock = threading.Lock()
        try:
            for label, endpoint in (
                ("s3", clouds.aws.endpoint),
                ("sqs", clouds.aws.endpoint),
                ("gcs", clouds.gcs.endpoint),
                ("blob", f"http://127.0.0.1:{azure_ports[0]}"),
                ("queue", f"http://127.0.0.1:{azure_ports[1]}"),
            ):
                self.proxies[label] = FaultProxy.in_front_of(endpoint).start()
            self.dns.install()
            self.dns.alias(AWS_HOST, "127.0.0.1")
        except BaseException:
            self.close()
            raise

    # -- adapters ------------------------------------------------------------------------------------

    def _azure_connection(self, *, direct: bool) -> str:
        blob, queue = (
            (self.clouds.azure.blob_endpoint, self.clouds.azure.queue_endpoint)
            if direct
            else (
                f"{self.proxies['blob'].endpoint}/{AZURITE_ACCOUNT}",
                f"{self.proxies['queue'].endpoint}/{AZURITE_ACCOUNT}",
            )
        )
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={blob};QueueEndpoint={queue};"
        )

    def stores(self, *, ensure: bool = False) -> list[ObjectStore]:
        """S3, GCS and Azure Blob through the proxies (``ensure``: create the buckets; needs them healthy)."""
        return self._stores(direct=False, ensure=ensure)

    def direct_stores(self) -> list[ObjectStore]:
        """The same buckets, straight to the emulators."""
        return self._stores(direct=True, ensure=False)

    def _stores(self, *, direct: bool, ensure: bool) -> list[ObjectStore]:
        from failover.adapters.aws.s3 import S3Store
        from failover.adapters.azure.blob import AzureBlobStore
        from failover.adapters.gcp.gcs import GcsStore

        options: dict[str, Any] = {**self._timeouts, "ensure": ensure}
        s3 = {} if direct else {"endpoint_url": f"http://{S3_HOST}:{self.proxies['s3'].port}"}
        gcs = {} if direct else {"endpoint_url": self.proxies["gcs"].endpoint}
        connection = self._azure_connection(direct=direct)
        return [
            S3Store(self.clouds.aws.s3_config(self.name, **s3, **options)),
            GcsStore(self.clouds.gcs.gcs_config(self.name, **gcs, **options)),
            AzureBlobStore(self.clouds.azure.azure_blob_config(self.name, connection_string=connection, **options)),
        ]

    def process_configs(self) -> tuple[list[StoreConfig], list[QueueConfig]]:
        """The stores' and queues' configurations for another process: through the proxies, by address.

        The DNS faults live in this process's resolver, so another process sees a DNS outage only as
        the connections it cuts; every proxy fault reaches it as it reaches this one."""
        options: dict[str, Any] = {**self._timeouts, "ensure": False}
        connection = self._azure_connection(direct=False)
        aws, gcs, azure = self.clouds.aws, self.clouds.gcs, self.clouds.azure
        stores: list[StoreConfig] = [
            aws.s3_config(self.name, endpoint_url=self.proxies["s3"].endpoint, **options),
            gcs.gcs_config(self.name, endpoint_url=self.proxies["gcs"].endpoint, **options),
            azure.azure_blob_config(self.name, connection_string=connection, **options),
        ]
        queues: list[QueueConfig] = [
            aws.sqs_config(self.name, endpoint_url=self.proxies["sqs"].endpoint, **options),
            azure.azure_queue_config(self.name, connection_string=connection, **options),
        ]
        return stores, queues

    def queues(self) -> list[MessageQueue]:
        """SQS and Azure Queue through the proxies (created on first use)."""
        return self._queues(direct=False)

    def direct_queues(self) -> list[MessageQueue]:
        return self._queues(direct=True)

    def _queues(self, *, direct: bool) -> list[MessageQueue]:
        from failover.adapters.aws.sqs import SqsQueue
        from failover.adapters.azure.queue import AzureQueue

        sqs = {} if direct else {"endpoint_url": f"http://{SQS_HOST}:{self.proxies['sqs'].port}"}
        connection = self._azure_connection(direct=direct)
        return [
            SqsQueue(self.clouds.aws.sqs_config(self.name, **sqs, **self._timeouts)),
            AzureQueue(self.clouds.azure.azure_queue_config(self.name, connection_string=connection, **self._timeouts)),
        ]

    # -- faults --------------------------------------------------------------------------------------

    def break_provider(self, provider: str, fault: FaultKind) -> None:
        with self._lock:
            self._broken[provider] = fault
        labels = _PROXIES_OF[provider]
        if fault is FaultKind.DNS:
            self.dns.fail(AWS_HOST)
            # Open connections do not need the name: cut them, as a server does with idle ones.
            for label in labels:
                self.proxies[label].set(Fault.refuse())
                self.proxies[label].clear()
            return
        for label in labels:
            self.proxies[label].set(_fault(fault, label))

    def heal(self, provider: str) -> None:
        with self._lock:
            fault = self._broken.pop(provider, None)
        if fault is FaultKind.DNS:
            self.dns.heal(AWS_HOST)
        for label in _PROXIES_OF[provider]:
            self.proxies[label].clear()

    def heal_all(self) -> None:
        for provider in _PROXIES_OF:
            self.heal(provider)

    @property
    def broken(self) -> Mapping[str, FaultKind]:
        with self._lock:
            return MappingProxyType(dict(self._broken))

    def describe_broken(self) -> str:
        """``"aws:dns+azure:503"``, or ``""`` when every provider is healthy."""
        return "+".join(f"{provider}:{fault}" for provider, fault in sorted(self.broken.items()))

    def close(self) -> None:
        self.dns.uninstall()
        for proxy in self.proxies.values():
            proxy.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _fault(kind: FaultKind, label: str) -> Fault:
    if kind is FaultKind.REFUSED:
        return Fault.refuse()
    if kind is FaultKind.HANG:
        return Fault.stall()
    if kind is FaultKind.BLACKHOLE:
        return Fault.blackhole()
    if kind is FaultKind.STORM:
        return _UNAVAILABLE[label]
    raise ValueError(f"{kind} is not a proxy fault")

"""What the emulator tests of the drop-in share: a configuration that maps every bucket to S3 (the
caller's client) and GCS, and AWS reached through a fault (a refusing proxy, or a name that stops
resolving)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from failover.config import FailoverConfig
from failover.testing.emulators import LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy

# moto reads a bucket name from the Host of any dotted name unless it starts with "localhost".
AWS_HOST = "localhost.aws.compat.test"
FAST = Config(connect_timeout=0.5, read_timeout=2, retries={"total_max_attempts": 1})


def failover_config(clouds: LocalClouds, **boto3: Any) -> FailoverConfig:
    """Every bucket on the caller's S3 first, then on GCS as ``dr-{bucket}`` (created when missing),
    written to both (mirror mode, acknowledged by one); every queue on SQS, then Pub/Sub."""
    return FailoverConfig.model_validate(
        {
            "engine": {"deadline": 5, "attempt_timeout": 2, "probe": {"backoff_base": 0.2, "backoff_cap": 0.5}},
            # Every write on every healthy store: a listing during an outage misses nothing written before.
            "storage": {"mode": "mirror", "write_quorum": 1},
            "stores": {"gcp": clouds.gcs.gcs_config("placeholder", ensure=True).model_dump()},
            "queues": {"gcp": clouds.pubsub.pubsub_config("placeholder").model_dump()},
            "boto3": {
                "buckets": [{"match": "*", "stores": {"gcp": "dr-{bucket}"}}],
                "queues": [{"match": "*", "queues": {"gcp": "dr-{queue}"}}],
                **boto3,
            },
        }
    )


@dataclass
class Aws:
    """The boto3 arguments that reach moto through the fault, and the switch that breaks it."""

    kwargs: dict[str, Any]
    proxy: FaultProxy | None = None
    dns: DnsFaults | None = None

    def break_(self) -> None:
        if self.proxy is not None:
            self.proxy.set(Fault.refuse())
        if self.dns is not None:
            self.dns.fail(AWS_HOST)

    def heal(self) -> None:
        if self.proxy is not None:
            self.proxy.clear()
        if self.dns is not None:
            self.dns.heal(AWS_HOST)


def _kwargs(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "config": FAST,
    }


@contextmanager
def aws_through(clouds: LocalClouds, how: str) -> Iterator[Aws]:
    """moto behind a `FaultProxy` (``how="proxy"``) or behind a name `DnsFaults` can break (``"dns"``)."""
    if how == "proxy":
        with FaultProxy.in_front_of(clouds.aws.endpoint) as proxy:
            yield Aws(_kwargs(proxy.endpoint), proxy=proxy)
    else:
        port = clouds.aws.endpoint.rsplit(":", 1)[1]
        with DnsFaults() as dns:
            dns.alias(AWS_HOST, "127.0.0.1")
            yield Aws(_kwargs(f"http://{AWS_HOST}:{port}"), dns=dns)

"""The three contenders of the outage benchmark, behind one small interface.

1. ``boto3 defaults``: one boto3 S3 client as boto3 makes it (retry mode ``standard``: 3 attempts;
   connect and read timeouts of 60 s). Only path-style addressing is set, so that the bucket is not
   prepended to the endpoint's host name (the DNS scenario's endpoint is a name, not an address).
2. ``boto3 + tenacity + GCS fallback``: what a careful user writes without this library. The same
   client, each call wrapped in tenacity (``stop_after_attempt(3)``, ``wait_exponential(max=10)``:
   waits of 1 s then 2 s), and when the retries are spent, the same call on GCS through
   google-cloud-storage with its defaults. The data set is on GCS too (copied before the run, as a
   nightly sync would); writes made since are not.
3. ``FailoverStorage``: ``FailoverStorage([S3Store, GcsStore])`` with default settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from tenacity import Retrying, stop_after_attempt, wait_exponential

from failover.adapters.aws import S3Store
from failover.adapters.gcp import GcsStore
from failover.config import GcsConfig, S3Config
from failover.storage import FailoverStorage
from failover.testing.emulators import TEST_PROJECT

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

__all__ = ["BOTO3", "CONTENDERS", "FAILOVER", "TENACITY", "Client", "Target", "build_client"]

BOTO3 = "boto3 defaults"
TENACITY = "boto3 + tenacity + GCS fallback"
FAILOVER = "FailoverStorage"
CONTENDERS = (BOTO3, TENACITY, FAILOVER)

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where one run's contender keeps its objects: S3 (through the fault) and GCS."""

    s3: S3Config  # endpoint_url is the FaultProxy (or its alias host name)
    gcs: GcsConfig


@dataclass(frozen=True)
class Client:
    """What the workload calls: ``get(key) -> bytes``, ``put(key, data)``; ``seed`` writes the data set."""

    get: Callable[[str], bytes]
    put: Callable[[str, bytes], object]
    seed: Callable[[dict[str, bytes]], None]
    close: Callable[[], None]
    failover: FailoverStorage | None = None


def _boto3_client(config: S3Config) -> S3Client:
    assert config.access_key_id is not None
    assert config.secret_access_key is not None
    return boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id.get_secret_value(),
        aws_secret_access_key=config.secret_access_key.get_secret_value(),
        config=Config(s3={"addressing_style": "path"}),
    )


def _gcs_bucket(config: GcsConfig) -> Any:
    """A google-cloud-storage bucket with the client's defaults (google.cloud ships no types)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project=TEST_PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": config.endpoint_url},
    )
    bucket = client.bucket(config.bucket)
    if not bucket.exists():
        client.create_bucket(config.bucket)
    return bucket


def build_client(contender: str, target: Target) -> Client:
    if contender.startswith("multi-storage-client"):  # the peers benchmark's contender (the bench extra)
        from benchmarks._msc_client import build_msc_client

        return build_msc_client(target)
    if contender == FAILOVER:
        storage = FailoverStorage([S3Store(target.s3), GcsStore(target.gcs)])

        def seed_failover(objects: dict[str, bytes]) -> None:
            for key, data in objects.items():
                storage.put(key, data)
            storage.drain(timeout=120)

        return Client(storage.get_bytes, storage.put, seed_failover, storage.close, failover=storage)
    s3 = _boto3_client(target.s3)
    bucket = target.s3.bucket
    if target.s3.ensure:
        s3.create_bucket(Bucket=bucket)

    def s3_get(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def s3_put(key: str, data: bytes) -> object:
        return s3.put_object(Bucket=bucket, Key=key, Body=data)

    if contender == BOTO3:

        def seed_s3(objects: dict[str, bytes]) -> None:
            for key, data in objects.items():
                s3_put(key, data)

        return Client(s3_get, s3_put, seed_s3, s3.close)
    if contender != TENACITY:
        raise ValueError(f"unknown contender {contender!r}; choose among {CONTENDERS}")
    gcs = _gcs_bucket(target.gcs)

    def retried(call: Callable[[], T]) -> T:
        retrying = Retrying(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=1, max=10), reraise=True)
        return retrying(call)

    def get(key: str) -> bytes:
        try:
            return retried(lambda: s3_get(key))
        except Exception:
            data: bytes = gcs.blob(key).download_as_bytes()
            return data

    def put(key: str, data: bytes) -> object:
        try:
            return retried(lambda: s3_put(key, data))
        except Exception:
            gcs.blob(key).upload_from_string(data)
            return None

    def seed_both(objects: dict[str, bytes]) -> None:
        for key, data in objects.items():
            s3_put(key, data)
            gcs.blob(key).upload_from_string(data)

    def close() -> None:
        s3.close()
        gcs.client.close()

    return Client(get, put, seed_both, close)

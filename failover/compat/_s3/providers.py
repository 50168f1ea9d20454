"""Bucket calls the `ObjectStore` Protocol does not have, on each provider's own SDK: delete a bucket
(container), and list the buckets an account holds. The drop-in's DeleteBucket and ListBuckets act
on every provider of a mapping with these; the clients are built from the same store
configurations as the mapped buckets' stores (and their emulator endpoints).

Each call answers `Outcome`: the provider did it, said the bucket is not there, or did not answer.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from failover.config import AzureBlobConfig, GcsConfig, S3Config, StoreConfig

__all__ = ["Outcome", "delete_bucket", "list_buckets"]

log = logging.getLogger(__name__)
TIMEOUT = 5.0
_USER = "the drop-in's bucket calls"


class Outcome(enum.Enum):
    DONE = "done"
    MISSING = "missing"
    UNREACHABLE = "unreachable"


def delete_bucket(config: StoreConfig) -> Outcome:
    """Delete the bucket (container) ``config`` names; the caller has checked that it is empty."""
    try:
        _DELETE[config.kind](config)
    except Exception as exc:
        if _missing(exc):
            return Outcome.MISSING
        log.warning("DeleteBucket: %s not deleted on %s now: %s", _bucket_of(config), config.kind, exc)
        return Outcome.UNREACHABLE
    return Outcome.DONE


def list_buckets(config: StoreConfig) -> list[tuple[str, datetime | None]] | None:
    """The buckets (containers) of the account ``config`` reaches, with their creation times; None
    when the provider does not answer."""
    try:
        return _LIST[config.kind](config)
    except Exception as exc:
        log.warning("ListBuckets: %s did not answer: %s", config.kind, exc)
        return None


def _bucket_of(config: StoreConfig) -> str:
    return str(getattr(config, "container", None) or getattr(config, "bucket", ""))


def _missing(exc: Exception) -> bool:
    """Whether a provider's error says the bucket is not there (S3, GCS or Azure's own exception)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code")) in ("NoSuchBucket", "404")
    code = getattr(exc, "code", None)  # google.api_core's NotFound
    if code == 404:
        return True
    return getattr(exc, "error_code", None) == "ContainerNotFound" or getattr(exc, "status_code", None) == 404


def _s3(config: Any) -> Any:
    from failover.adapters.aws._client import ClientCache

    return ClientCache(config, "s3", user=_USER).get(TIMEOUT)


def _gcs(config: Any) -> Any:
    from failover.adapters.gcp.gcs import _make_client  # the adapter's own client, emulator endpoint included

    return _make_client(config)


def _azure(config: Any) -> Any:
    from failover.adapters._sdk import require
    from failover.adapters.azure._client import client_options, resolve_connection

    sdk = require("azure.storage.blob", extra="azure", user=_USER)
    return resolve_connection(config, user=_USER).client(sdk.BlobServiceClient, **client_options(config))


def _delete_s3(config: S3Config) -> None:
    _s3(config).delete_bucket(Bucket=config.bucket)


def _delete_gcs(config: GcsConfig) -> None:
    _gcs(config).bucket(config.bucket).delete(timeout=TIMEOUT)


def _delete_azure(config: AzureBlobConfig) -> None:
    with _azure(config) as service:
        service.delete_container(config.container, timeout=int(TIMEOUT))


def _list_s3(config: S3Config) -> list[tuple[str, datetime | None]]:
    return [(b["Name"], b.get("CreationDate")) for b in _s3(config).list_buckets().get("Buckets", [])]


def _list_gcs(config: GcsConfig) -> list[tuple[str, datetime | None]]:
    return [(b.name, b.time_created) for b in _gcs(config).list_buckets(timeout=TIMEOUT)]


def _list_azure(config: AzureBlobConfig) -> list[tuple[str, datetime | None]]:
    with _azure(config) as service:
        return [(c.name, c.last_modified) for c in service.list_containers(timeout=int(TIMEOUT))]


_DELETE: dict[str, Callable[[Any], None]] = {"s3": _delete_s3, "gcs": _delete_gcs, "azure_blob": _delete_azure}
_LIST: dict[str, Callable[[Any], list[tuple[str, datetime | None]]]] = {
    "s3": _list_s3,
    "gcs": _list_gcs,
    "azure_blob": _list_azure,
}

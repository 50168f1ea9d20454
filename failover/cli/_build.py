"""Adapters from configuration, for the commands that talk to each store or queue on its own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from failover.config import QueueConfig, StoreConfig
from failover.interfaces import ObjectStore
from failover.storage import build_store

__all__ = ["PROVIDER_OF", "endpoint_label", "open_stores"]

PROVIDER_OF: Final = {
    "s3": "aws",
    "sqs": "aws",
    "gcs": "gcp",
    "pubsub": "gcp",
    "azure_blob": "azure",
    "azure_queue": "azure",
}


@contextmanager
def open_stores(configs: Sequence[StoreConfig]) -> Iterator[dict[str, ObjectStore]]:
    """Every configured store by name, closed on leaving; if one fails to build, those built are closed."""
    stores: dict[str, ObjectStore] = {}
    try:
        for config in configs:
            store = build_store(config)
            stores[store.name] = store
        yield stores
    finally:
        for store in stores.values():
            store.close()


def endpoint_label(config: StoreConfig | QueueConfig) -> str:
    """A name for an endpoint whose adapter could not be built: its configured name, or kind:resource."""
    if config.name:
        return config.name
    resource = getattr(config, "bucket", None) or getattr(config, "container", None) or getattr(config, "queue", None)
    if resource is None:
        resource = getattr(config, "subscription", "?")
    return f"{config.kind}:{resource}"

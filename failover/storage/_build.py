"""What a `FailoverStorage` is built from: adapters from configuration, the journal, capabilities."""

from __future__ import annotations

from collections.abc import Sequence

from failover.config import FailoverConfig, GcsConfig, S3Config, StoreConfig
from failover.errors import ConfigError
from failover.interfaces import Capabilities, ObjectStore

__all__ = ["build_store", "build_stores", "common_capabilities"]


def build_store(config: StoreConfig) -> ObjectStore:
    """The adapter a store's configuration names; its SDK is imported only now."""
    if isinstance(config, S3Config):
        from failover.adapters.aws.s3 import S3Store

        return S3Store(config)
    if isinstance(config, GcsConfig):
        from failover.adapters.gcp.gcs import GcsStore

        return GcsStore(config)
    from failover.adapters.azure.blob import AzureBlobStore

    return AzureBlobStore(config)


def build_stores(config: FailoverConfig) -> list[ObjectStore]:
    """Every store of ``config.stores``, in order; if one fails to build, those built are closed."""
    if not config.stores:
        raise ConfigError("the configuration lists no stores ([stores.NAME] tables)", field="stores")
    stores: list[ObjectStore] = []
    try:
        for entry in config.stores.values():
            stores.append(build_store(entry))
    except BaseException:
        for store in stores:
            store.close()
        raise
    return stores


def common_capabilities(stores: Sequence[ObjectStore]) -> tuple[Capabilities, str]:
    """What every store can do, and the provider whose object size limit is the smallest."""
    smallest = min(stores, key=lambda store: store.capabilities.max_object_size)
    every = [store.capabilities for store in stores]
    capabilities = Capabilities(
        max_object_size=smallest.capabilities.max_object_size,
        conditional_create=all(c.conditional_create for c in every),
        conditional_update=all(c.conditional_update for c in every),
        conditional_large_writes=all(c.conditional_large_writes for c in every),
        server_side_copy=False,  # FailoverStorage.copy restamps the copy, streaming it through the client
        conditional_delete=False,  # an etag is one store's: no condition holds across the stores
    )
    return capabilities, smallest.provider

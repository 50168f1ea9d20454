"""What the Azure error tests share: adapters pointed at a given host and port, and the checks of an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from failover.adapters.azure import AzureBlobStore, AzureQueue
from failover.errors import FailoverError
from failover.testing.emulators import AZURITE_ACCOUNT, AZURITE_KEY, Azurite

__all__ = ["BLOB_CALLS", "assert_from_azure", "blob_at", "connection_string", "queue_at"]


def assert_from_azure(error: FailoverError, operation: str) -> None:
    """The error names the provider and operation and keeps the Azure SDK's exception as its cause."""
    assert error.provider == "azure", f"provider {error.provider!r}"
    assert error.operation == operation, f"operation {error.operation!r}, expected {operation!r}"
    cause = error.__cause__
    assert cause is not None, "the SDK's exception was not kept as __cause__"
    assert type(cause).__module__.startswith("azure."), f"the cause is {type(cause).__module__}.{type(cause).__name__}"


def connection_string(host: str, port: int, *, key: str = AZURITE_KEY) -> str:
    endpoint = f"http://{host}:{port}/{AZURITE_ACCOUNT}"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint={endpoint};QueueEndpoint={endpoint};"
    )


def blob_at(azurite: Azurite, container: str, host: str, port: int, **overrides: Any) -> AzureBlobStore:
    return AzureBlobStore(
        azurite.azure_blob_config(container, connection_string=connection_string(host, port), ensure=False, **overrides)
    )


def queue_at(azurite: Azurite, queue: str, host: str, port: int, **overrides: Any) -> AzureQueue:
    return AzureQueue(
        azurite.azure_queue_config(queue, connection_string=connection_string(host, port), ensure=False, **overrides)
    )


# Each blob operation, as a call on a store; "put" and "copy" are writes, the others reads.
BLOB_CALLS: dict[str, Callable[[AzureBlobStore], object]] = {
    "put": lambda store: store.put("k", b"v"),
    "get": lambda store: store.get_bytes("k"),
    "head": lambda store: store.head("k"),
    "delete": lambda store: store.delete("k"),
    "list": lambda store: list(store.list("")),
    "copy": lambda store: store.copy("k", "k2"),
}

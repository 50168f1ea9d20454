"""Azure adapters: `AzureBlobStore` (Blob Storage) and `AzureQueue` (Queue Storage).

Importing this package imports no Azure SDK; each adapter imports its SDK when it is built.
"""

from failover.adapters.azure.blob import AzureBlobStore
from failover.adapters.azure.queue import AzureQueue

__all__ = ["AzureBlobStore", "AzureQueue"]

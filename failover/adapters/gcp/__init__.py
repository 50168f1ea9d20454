"""Google Cloud: `GcsStore` (Cloud Storage) and `PubSubQueue` (Pub/Sub).

Importing this package imports no Google SDK; each adapter imports its own when first built, and
raises `ConfigError` naming the ``gcp`` extra when it is missing.
"""

from failover.adapters.gcp.gcs import GcsStore
from failover.adapters.gcp.pubsub import PubSubQueue

__all__ = ["GcsStore", "PubSubQueue"]

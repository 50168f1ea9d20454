"""`FailoverStorage`: one `ObjectStore` over several providers' stores, failing over between them.

Writes are stamped, journaled and replicated (`failover.replication`); reads never return a copy
older than an acknowledged write; every call goes through the failover `Engine`.
"""

from failover.storage._build import build_store
from failover.storage._failover import PROBE_KEY, FailoverStorage, default_quorum

__all__ = ["PROBE_KEY", "FailoverStorage", "build_store", "default_quorum"]

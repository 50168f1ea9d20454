"""In-process reference adapters: `MemoryStore` and `MemoryQueue`.

They implement `ObjectStore` and `MessageQueue` with the same shared checks the cloud adapters use
(`prepare_put`, `prepare_send`, `validate_key`, ...), so they accept and reject exactly what the
cloud adapters do. The unit tests of the resilience engine run on them, with a manual clock, and the
contract suites prove them against the same behaviours as every cloud adapter. Thread-safe.
"""

from failover.adapters.memory.queue import MemoryQueue
from failover.adapters.memory.store import MemoryStore

__all__ = ["MemoryQueue", "MemoryStore"]

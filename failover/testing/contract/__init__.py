"""Contract suites: the behaviours every `ObjectStore` and `MessageQueue` promises, as pytest tests.

Written once against the Protocols and run against every adapter of this package, on emulators.
They are public: run them against your own adapter (or your own wrapper of ours) by subclassing
and overriding one fixture::

    from failover.testing.contract import ObjectStoreContract

    class TestMyStore(ObjectStoreContract):
        @pytest.fixture
        def store(self):
            with MyStore(bucket=fresh_name()) as store:   # a fresh, empty store per test
                yield store

`MessageQueueContract` works the same way with a `queue` fixture (and `fifo_queue`, when the
adapter has a FIFO flavour). `QueueArgumentsContract` (part of it) checks only that every bad
argument is refused with `InvalidRequest`: bind it alone to a wrapper that is not a full queue.
Provider differences are read from ``capabilities``, never from
provider names: a store without ``conditional_create`` must refuse ``if_none_match`` with
`InvalidRequest` rather than overwrite. A known gap of one backend is declared on the binding by
overriding that one test with a strict ``xfail`` that names the gap and calls ``super()``::

        @pytest.mark.xfail(strict=True, reason="emulator X ignores Y")
        def test_that_behaviour(self, store):
            super().test_that_behaviour(store)

`DedupWindowContract` and `JournalContract` do the same for the replication state (SQLite on one host,
PostgreSQL for a fleet), with an ``open_window`` / ``open_journal`` factory fixture and a manual
``wall`` clock.

The suites need pytest and hypothesis (the ``dev`` extra).
"""

from failover.testing.contract._queue_arguments import QueueArgumentsContract
from failover.testing.contract._wall import ManualWall
from failover.testing.contract.dedup import DedupWindowContract
from failover.testing.contract.journal import JournalContract
from failover.testing.contract.queue import MessageQueueContract
from failover.testing.contract.storage import ObjectStoreContract

__all__ = [
    "DedupWindowContract",
    "JournalContract",
    "ManualWall",
    "MessageQueueContract",
    "ObjectStoreContract",
    "QueueArgumentsContract",
]

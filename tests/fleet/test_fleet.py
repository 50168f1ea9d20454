"""`Fleet`: one config opens the shared journal, dedup window and health store that the library takes."""

from __future__ import annotations

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.fleet import DatabaseUnavailable, Fleet, FleetConfig
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage
from failover.testing.emulators import PostgresServer


def test_two_processes_storage_share_the_journal_and_reads_skip_the_others_pending_store(
    fleet_config: FleetConfig,
) -> None:
    a, b = MemoryStore("a"), MemoryStore("b")
    with Fleet(fleet_config) as one, Fleet(fleet_config) as two:
        writer = FailoverStorage([a, b], journal=one.journal, replicate=False)
        reader = FailoverStorage([b, a], journal=two.journal, replicate=False)
        try:
            writer.put("k", b"new")
            assert two.journal.newest_pending("k") == frozenset({"b"})
            b.put("k", b"stale")  # what b would serve if the reader did not know
            assert reader.get_bytes("k") == b"new"
        finally:
            writer.close()
            reader.close()


def test_queues_of_two_processes_hand_a_message_delivered_to_both_on_once(fleet_config: FleetConfig) -> None:
    sqs, azure = MemoryQueue("sqs"), MemoryQueue("azure")
    # A send whose outcome was unknown on one provider, re-sent with the same id to the other.
    for queue in (sqs, azure):
        with FailoverQueue([queue]) as sender:
            sender.send(b"hello", dedup_id="m1")
    with Fleet(fleet_config) as one, Fleet(fleet_config) as two:
        first = FailoverQueue([sqs], dedup=one.dedup_window(ttl=60))
        second = FailoverQueue([azure], dedup=two.dedup_window(ttl=60))
        try:
            handed = first.receive(max_messages=1, wait=0) + second.receive(max_messages=1, wait=0)
            assert [message.body for message in handed] == [b"hello"]
        finally:
            first.close()
            second.close()


def test_fleet_dedup_window_refuses_to_guess_while_the_database_is_stopped(
    fleet_config: FleetConfig, postgres: PostgresServer
) -> None:
    with Fleet(fleet_config) as fleet:
        window = fleet.dedup_window(ttl=60)
        postgres.stop()
        with pytest.raises(DatabaseUnavailable):
            window.seen("m1")

"""The fleet's dedup window admits a copy in one statement: a call whose answer was lost cannot
leave half a record (the copy marked admitted, its id not seen) that hands the message on twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from failover.fleet import FleetConfig, FleetDatabase, PostgresDedupWindow
from failover.fleet._db import DatabaseUnavailable
from failover.interfaces import Message
from failover.queue._dedup import ReceiveDedup, Verdict
from failover.testing.emulators import PostgresServer

LEASE = 0.5  # seconds in flight: the tests wait for it on the database's real clock


def _copy(queue: str, message_id: str) -> Message:
    return Message(body=b"m", attributes={}, id=message_id, provider="sqs", receipt=None, dedup_id="x", queue=queue)


@pytest.fixture
def window(db: FleetDatabase) -> Iterator[PostgresDedupWindow]:
    opened = PostgresDedupWindow(db, ttl=60)
    opened.seen("warm")  # a pooled connection, as in a running consumer
    yield opened
    opened.close()


def _answers_again(db: FleetDatabase) -> None:
    deadline = time.monotonic() + 10
    while not db.available:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # the statement the server read before its pause runs now


def test_admission_whose_answer_was_lost_in_a_pause_hands_the_message_on_once(
    window: PostgresDedupWindow, db: FleetDatabase, postgres: PostgresServer
) -> None:
    dedup = ReceiveDedup(window, lease=LEASE)
    postgres.pause()
    with pytest.raises(DatabaseUnavailable):
        dedup.admit("queue-a", _copy("queue-a", "a1"))  # not handed on: comes back after its visibility
    postgres.resume()
    _answers_again(db)
    verdicts = [dedup.admit("queue-b", _copy("queue-b", "b1")).verdict]
    again = dedup.admit("queue-a", _copy("queue-a", "a1"))
    if again.verdict is Verdict.HOLD:  # the lost call took the lease: a1 is handed on when it ends
        time.sleep(again.lease_left)
        again = dedup.admit("queue-a", _copy("queue-a", "a1"))
    verdicts.append(again.verdict)
    assert verdicts.count(Verdict.HAND_ON) == 1


def test_duplicate_copy_is_dropped_and_dropped_again_when_it_comes_back(window: PostgresDedupWindow) -> None:
    dedup = ReceiveDedup(window, lease=LEASE)
    assert dedup.admit("queue-a", _copy("queue-a", "a1")).verdict is Verdict.HAND_ON
    assert dedup.admit("queue-b", _copy("queue-b", "b1")).verdict is Verdict.DROP
    assert dedup.admit("queue-b", _copy("queue-b", "b1")).verdict is Verdict.DROP


def test_admitted_copy_delivered_again_is_held_then_handed_on_after_its_lease(window: PostgresDedupWindow) -> None:
    dedup = ReceiveDedup(window, lease=LEASE)
    assert dedup.admit("queue-a", _copy("queue-a", "a1")).verdict is Verdict.HAND_ON
    held = dedup.admit("queue-a", _copy("queue-a", "a1"))
    assert held.verdict is Verdict.HOLD
    time.sleep(held.lease_left)
    assert dedup.admit("queue-a", _copy("queue-a", "a1")).verdict is Verdict.HAND_ON, "a redelivery after a crash"


def test_copies_racing_in_two_processes_pools_are_handed_on_once(db: FleetDatabase, fleet_config: FleetConfig) -> None:
    other_db = FleetDatabase(fleet_config)
    windows = [PostgresDedupWindow(db, ttl=60), PostgresDedupWindow(other_db, ttl=60)]
    try:
        verdicts: list[Verdict] = []
        start = threading.Barrier(2)

        def consume(window: PostgresDedupWindow) -> None:
            start.wait()
            for n in range(50):
                verdicts.append(window.admit(f"m{n} q a", f"m{n}", LEASE).verdict)

        threads = [threading.Thread(target=consume, args=(window,)) for window in windows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert (verdicts.count(Verdict.HAND_ON), verdicts.count(Verdict.HOLD)) == (50, 50)
    finally:
        other_db.close()

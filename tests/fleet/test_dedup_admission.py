"""The fleet's dedup window admits a copy in one statement: a call whose answer was lost cannot
leave half a record (the copy marked admitted, its id not seen) that hands the message on twice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from failover.fleet import FleetDatabase, PostgresDedupWindow
from failover.fleet._db import DatabaseUnavailable
from failover.interfaces import Message
from failover.queue._dedup import ReceiveDedup
from failover.testing.emulators import PostgresServer


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
    dedup = ReceiveDedup(window)
    postgres.pause()
    with pytest.raises(DatabaseUnavailable):
        dedup.admit("queue-a", _copy("queue-a", "a1"))  # not handed on: comes back after its visibility
    postgres.resume()
    _answers_again(db)
    handed = [dedup.admit("queue-b", _copy("queue-b", "b1")), dedup.admit("queue-a", _copy("queue-a", "a1"))]
    assert handed.count(True) == 1


def test_duplicate_copy_is_dropped_and_dropped_again_when_it_comes_back(window: PostgresDedupWindow) -> None:
    dedup = ReceiveDedup(window)
    assert dedup.admit("queue-a", _copy("queue-a", "a1")) is True
    assert dedup.admit("queue-b", _copy("queue-b", "b1")) is False
    assert dedup.admit("queue-b", _copy("queue-b", "b1")) is False
    assert dedup.admit("queue-a", _copy("queue-a", "a1")) is True, "a redelivery of the admitted copy"

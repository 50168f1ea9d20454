"""FailoverQueue with a dedup window: the copy an ambiguous send leaves is dropped, crashes lose nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.clock import ManualClock
from failover.config.sections import DEFAULT_DEDUP_TTL
from failover.errors import ConfigError, NotFound, OutcomeUnknown
from failover.interfaces import Message
from failover.queue import FailoverQueue
from failover.queue._receive import Receipt
from failover.replication.dedup import SqliteDedupWindow
from failover.testing.faulty import timed_out
from tests.unit.queue_rig import SETTINGS, Rig, bodies

VISIBILITY = 30.0  # MemoryQueue's default


@pytest.fixture
def window(tmp_path: Path, clock: ManualClock) -> Iterator[SqliteDedupWindow]:
    """The window on the rig's clock: in-flight leases run out when the test moves it."""
    opened = SqliteDedupWindow(tmp_path / "dedup.sqlite", ttl=DEFAULT_DEDUP_TTL, wall=clock.monotonic)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def rig(window: SqliteDedupWindow, clock: ManualClock) -> Iterator[Rig]:
    rig = Rig(options={"dedup": window}, clock=clock)
    yield rig
    rig.close()


def _second_consumer(rig: Rig, window: SqliteDedupWindow) -> FailoverQueue:
    """Another consumer of the same queues, sharing the dedup window (as another process would)."""
    return FailoverQueue([rig.primary, rig.secondary], settings=SETTINGS, clock=rig.clock, dedup=window)


def _delivered_again_at_once(rig: Rig, message: Message) -> None:
    """The queue hands the copy out again before its visibility ends (SQS standard queues may)."""
    receipt = message.receipt
    assert isinstance(receipt, Receipt)
    rig.primary.inner.extend(receipt.message, 0)


def _sent_twice(rig: Rig) -> None:
    """An ambiguous send: the primary took the message but the answer was lost, so it went again."""
    rig.primary.fail(OutcomeUnknown("the answer was lost"), "send", times=1, after=True)
    rig.queue.send(b"once", dedup_id="order-1")
    assert len(rig.held(rig.primary)) == len(rig.held(rig.secondary)) == 1


def test_the_copy_of_an_ambiguous_send_is_dropped_and_acked(rig: Rig) -> None:
    _sent_twice(rig)
    received = rig.queue.receive(10)
    assert bodies(received) == [b"once"]
    rig.queue.ack(received[0])
    assert rig.held(rig.primary) == rig.held(rig.secondary) == [], "the duplicate was left on its queue"
    assert rig.queue.counters().duplicates_dropped == 1


def test_without_dedup_both_copies_are_delivered(rig: Rig) -> None:
    _sent_twice(rig)
    assert bodies(rig.queue.receive(10, dedup=False)) == [b"once", b"once"]


def test_a_copy_arriving_after_the_first_was_processed_is_dropped(rig: Rig) -> None:
    _sent_twice(rig)
    (first,) = rig.queue.receive(1)
    rig.queue.ack(first)
    assert rig.queue.receive(10) == []
    assert rig.held(rig.primary) == rig.held(rig.secondary) == []


def test_a_redelivery_after_a_consumer_crash_is_processed_again(rig: Rig) -> None:
    rig.queue.send(b"x", dedup_id="order-2")
    (first,) = rig.queue.receive()
    rig.clock.advance(VISIBILITY)  # the consumer died without acking: the message comes back
    (again,) = rig.queue.receive()
    assert (again.id, again.delivery_count) == (first.id, 2)


def test_a_copy_delivered_to_two_consumers_at_once_is_handed_to_one(rig: Rig, window: SqliteDedupWindow) -> None:
    other = _second_consumer(rig, window)
    rig.queue.send(b"x", dedup_id="order-5")
    (first,) = rig.queue.receive(visibility=5)
    _delivered_again_at_once(rig, first)
    assert other.receive(visibility=5) == [], "the copy in flight was handed to a second consumer"
    assert other.counters().duplicates_held == 1
    with pytest.raises(NotFound):
        rig.queue.ack(first)  # its receipt went stale when the queue delivered the message again
    rig.clock.advance(5)
    assert other.receive(visibility=5) == [], "handed on again after its first consumer processed it"
    assert rig.held(rig.primary) == [], "the copy left behind by the stale ack was not acked"


def test_a_copy_held_back_is_left_unacked_and_hidden_until_the_lease_ends(rig: Rig, window: SqliteDedupWindow) -> None:
    other = _second_consumer(rig, window)
    rig.queue.send(b"x", dedup_id="order-6")
    (first,) = rig.queue.receive(visibility=5)
    _delivered_again_at_once(rig, first)
    rig.clock.advance(1)
    other.receive(visibility=5)
    rig.clock.advance(3.9)
    assert rig.held(rig.primary) == [], "the held copy is visible before the lease ends"
    rig.clock.advance(0.1)
    assert [message.id for message in rig.held(rig.primary)] == [first.id]


def test_a_copy_whose_consumer_died_is_handed_on_after_the_lease_not_before(
    rig: Rig, window: SqliteDedupWindow
) -> None:
    other = _second_consumer(rig, window)
    rig.queue.send(b"x", dedup_id="order-7")
    (first,) = rig.queue.receive(visibility=5)  # its consumer dies without acking
    _delivered_again_at_once(rig, first)
    rig.clock.advance(1)
    assert other.receive(visibility=5) == []
    rig.clock.advance(3.9)
    assert other.receive(visibility=5) == [], "handed on again before the lease ran out"
    rig.clock.advance(0.1)
    (again,) = other.receive(visibility=5)
    assert again.id == first.id


def test_nack_releases_the_id_so_the_next_copy_is_processed_once(rig: Rig) -> None:
    _sent_twice(rig)
    (first,) = rig.queue.receive(1)
    rig.queue.nack(first, delay=60)
    (second,) = rig.queue.receive(10)
    assert second.queue != first.queue, "the other copy was not processed after the nack"
    rig.queue.ack(second)
    rig.clock.advance(60)
    assert rig.queue.receive(10) == [], "the nacked copy was processed too"
    assert rig.held(rig.primary) == rig.held(rig.secondary) == []


def test_messages_without_a_failover_id_pass_the_dedup(rig: Rig) -> None:
    rig.primary.inner.send(b"foreign")
    rig.primary.inner.send(b"foreign")
    assert bodies(rig.queue.receive(10)) == [b"foreign", b"foreign"]


def test_a_window_instance_is_used_and_left_open_for_its_owner(tmp_path: Path) -> None:
    window = SqliteDedupWindow(tmp_path / "shared.sqlite", ttl=60)
    rig = Rig(options={"dedup": window})
    rig.queue.send(b"x", dedup_id="order-3")
    rig.queue.receive()
    assert len(window) == 1  # the id's admission
    rig.close()
    assert len(window) == 1, "closing the queue closed the caller's dedup window"
    window.close()


def test_dedup_true_without_a_window_is_a_config_error() -> None:
    rig = Rig()
    try:
        with pytest.raises(ConfigError, match="dedup"):
            rig.queue.receive(dedup=True)
    finally:
        rig.close()


def test_a_dedup_path_from_the_configuration_opens_a_shared_window(tmp_path: Path) -> None:
    from failover.queue._build import dedup_window

    window = dedup_window(str(tmp_path / "dedup.sqlite"), 60.0)
    assert isinstance(window, SqliteDedupWindow)
    window.close()
    assert dedup_window(None, 60.0) is None, "no path: no window"
    assert dedup_window("", 60.0) is None, "an empty path (an unset setting): no window"
    with pytest.raises(ConfigError):
        dedup_window(str(tmp_path / "x.sqlite"), 0)


def test_the_redelivery_of_a_message_whose_ack_was_deferred_is_dropped(rig: Rig) -> None:
    rig.queue.send(b"paid", dedup_id="order-9")
    [message] = rig.queue.receive()
    rig.primary.fail(timed_out(), "ack")  # acks on the queue that delivered it time out; receives work
    rig.queue.ack(message)  # kept pending, no error
    assert rig.queue.pending_acks == 1
    rig.clock.advance(VISIBILITY)  # its visibility ends before the pending ack lands
    assert rig.queue.receive() == [], "the redelivery of an acked message was handed out again"
    assert rig.queue.counters().duplicates_dropped == 1
    rig.primary.heal()
    rig.clock.advance(VISIBILITY)
    assert rig.queue.receive() == []
    assert rig.held(rig.primary) == [], "the message is still on the queue once acks work again"

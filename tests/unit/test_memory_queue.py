"""MemoryQueue on a manual clock: what the contract suite cannot pin in real time, in milliseconds."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from failover.adapters.memory import MemoryQueue
from failover.clock import ManualClock
from failover.errors import InvalidRequest, NotFound
from failover.interfaces import Message, MessageQueue, OutgoingMessage, QueueCapabilities

FIFO = QueueCapabilities(max_message_size=1024, max_attributes=10, max_delay=900, fifo=True, native_dedup=True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def queue(clock: ManualClock) -> MemoryQueue:
    return MemoryQueue("jobs", clock=clock)


def _only(messages: list[Message]) -> Message:
    assert len(messages) == 1, f"expected one message, got {len(messages)}"
    return messages[0]


def test_memory_queue_is_a_message_queue(queue: MemoryQueue) -> None:
    assert isinstance(queue, MessageQueue)
    assert (queue.name, queue.provider) == ("jobs", "memory")


def test_message_reappears_exactly_when_its_visibility_ends(queue: MemoryQueue, clock: ManualClock) -> None:
    queue.send(b"x")
    first = _only(queue.receive(visibility=10))
    clock.advance(9.999)
    assert queue.receive() == [], "delivered again before its visibility ended"
    clock.advance(0.001)
    again = _only(queue.receive())
    assert (again.id, again.delivery_count) == (first.id, 2)


def test_default_visibility_is_thirty_seconds_like_sqs(queue: MemoryQueue, clock: ManualClock) -> None:
    queue.send(b"x")
    queue.receive()
    clock.advance(29.9)
    assert queue.receive() == []
    clock.advance(0.1)
    assert len(queue.receive()) == 1


def test_receive_wait_advances_a_manual_clock_to_the_next_visible_message(
    queue: MemoryQueue, clock: ManualClock
) -> None:
    queue.send(b"later", delay=3)
    message = _only(queue.receive(wait=10))
    assert message.body == b"later"
    assert clock.sleeps == [3.0], f"the wait slept {clock.sleeps} instead of jumping to the message"


def test_receive_wait_on_an_empty_queue_sleeps_the_whole_wait(queue: MemoryQueue, clock: ManualClock) -> None:
    assert queue.receive(wait=5) == []
    assert clock.sleeps == [5.0], f"an empty wait slept {clock.sleeps}"


def test_delay_hides_a_sent_message_until_it_passes(queue: MemoryQueue, clock: ManualClock) -> None:
    queue.send(b"x", delay=60)
    clock.advance(59)
    assert queue.receive() == []
    clock.advance(1)
    assert len(queue.receive()) == 1


def test_nack_delay_and_extend_count_from_now(queue: MemoryQueue, clock: ManualClock) -> None:
    queue.send(b"x")
    message = _only(queue.receive(visibility=5))
    queue.extend(message, 20)
    clock.advance(19)
    assert queue.receive() == [], "extend did not push visibility to now + 20"
    queue.nack(message, delay=4)
    clock.advance(3.9)
    assert queue.receive() == [], "nack's delay was not counted from the nack"
    clock.advance(0.1)
    assert _only(queue.receive()).delivery_count == 2


def test_receipt_is_stale_once_the_message_is_delivered_again(queue: MemoryQueue, clock: ManualClock) -> None:
    queue.send(b"x")
    old = _only(queue.receive(visibility=1))
    clock.advance(1)
    new = _only(queue.receive(visibility=30))
    for operation in (queue.ack, queue.nack, lambda message: queue.extend(message, 10)):
        with pytest.raises(NotFound, match="stale"):
            operation(old)
    queue.ack(new)
    clock.advance(60)
    assert queue.receive() == [], "ack with the current receipt did not delete the message"


def test_ack_with_the_latest_receipt_works_after_visibility_expired(queue: MemoryQueue, clock: ManualClock) -> None:
    # SQS keeps the latest receipt valid until the message is received again.
    queue.send(b"x")
    message = _only(queue.receive(visibility=1))
    clock.advance(5)
    queue.ack(message)
    assert queue.receive() == []


def test_repeated_ack_succeeds_but_nack_after_ack_is_stale(queue: MemoryQueue) -> None:
    queue.send(b"x")
    message = _only(queue.receive())
    queue.ack(message)
    queue.ack(message)  # a retried ack must not fail
    with pytest.raises(NotFound):
        queue.nack(message)
    with pytest.raises(NotFound):
        queue.extend(message, 5)


def test_fifo_queue_delivers_nothing_behind_a_message_in_flight(clock: ManualClock) -> None:
    queue = MemoryQueue(capabilities=FIFO, clock=clock)
    for body in (b"a", b"b", b"c"):
        queue.send(body)
    first = _only(queue.receive(visibility=10))
    assert queue.receive(10) == [], "a FIFO queue delivered past a message in flight"
    queue.ack(first)
    assert [message.body for message in queue.receive(10)] == [b"b", b"c"]


def test_native_dedup_drops_a_repeated_dedup_id_for_five_minutes(clock: ManualClock) -> None:
    queue = MemoryQueue(capabilities=FIFO, clock=clock)
    first = queue.send(b"one", dedup_id="order-1")
    assert queue.send(b"one again", dedup_id="order-1") == first, "a repeated dedup id made a second message"
    clock.advance(300)
    assert queue.send(b"one later", dedup_id="order-1") != first, "the dedup window did not expire"
    bodies = [message.body for message in queue.receive(10)]
    assert bodies == [b"one", b"one later"], f"delivered {bodies}"


def test_without_native_dedup_a_repeated_dedup_id_is_delivered_twice(queue: MemoryQueue) -> None:
    queue.send(b"one", dedup_id="order-1")
    queue.send(b"one", dedup_id="order-1")
    received = queue.receive(10)
    assert [message.dedup_id for message in received] == ["order-1", "order-1"]


def test_batch_larger_than_max_batch_is_refused(queue: MemoryQueue) -> None:
    with pytest.raises(InvalidRequest) as caught:
        queue.send_batch([OutgoingMessage(b"x")] * 11)
    assert caught.value.rule == "batch.max_count"
    assert queue.receive(10) == [], "a refused batch delivered messages"


@pytest.mark.parametrize(
    ("call", "rule"),
    [
        pytest.param(lambda q: q.receive(0), "max_messages", id="receive-zero"),
        pytest.param(lambda q: q.receive(11), "max_messages", id="receive-over-batch"),
        pytest.param(lambda q: q.receive(wait=-1), "wait", id="negative-wait"),
        pytest.param(lambda q: q.receive(visibility=-1), "visibility", id="negative-visibility"),
        pytest.param(lambda q: q.receive(visibility=12 * 3600 + 1), "visibility", id="visibility-over-12h"),
        pytest.param(lambda q: q.send(b"x", delay=901), "delay", id="delay-over-15min"),
        pytest.param(lambda q: q.send("text"), "body.type", id="str-body"),
    ],
)
def test_out_of_range_arguments_are_invalid_requests_naming_the_rule(
    call: Callable[[MemoryQueue], object], rule: str
) -> None:
    queue = MemoryQueue(clock=ManualClock())
    with pytest.raises(InvalidRequest) as caught:
        call(queue)
    assert caught.value.rule == rule, f"refused under rule {caught.value.rule!r}, expected {rule!r}"


def test_capabilities_set_the_limits(clock: ManualClock) -> None:
    small = QueueCapabilities(max_message_size=8, max_attributes=1, max_delay=0)
    queue = MemoryQueue(capabilities=small, clock=clock)
    queue.send(b"12345678", attributes={"a": "1"})
    with pytest.raises(InvalidRequest):
        queue.send(b"123456789")
    with pytest.raises(InvalidRequest):
        queue.send(b"x", attributes={"a": "1", "b": "2"})
    with pytest.raises(InvalidRequest):
        queue.send(b"x", delay=1)


def test_concurrent_consumers_never_share_a_message() -> None:
    queue = MemoryQueue()
    for index in range(400):
        queue.send(str(index).encode())
    seen: list[bytes] = []
    lock = threading.Lock()

    def consume() -> None:
        while batch := queue.receive(10, visibility=60):
            with lock:
                seen.extend(message.body for message in batch)
            for message in batch:
                queue.ack(message)

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen, key=int) == [str(index).encode() for index in range(400)], "a message was lost or shared"

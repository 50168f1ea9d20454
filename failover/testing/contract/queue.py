"""`MessageQueueContract`: every behaviour a `MessageQueue` promises, as pytest tests.

Waiting tests run in real time on emulators, with short waits. They never assert how long anything
took: they assert what arrived, polling with `receive_until` whose bound only stops a broken
adapter from hanging.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any

import pytest

from failover.errors import InvalidRequest
from failover.interfaces import Message, MessageQueue, OutgoingMessage
from failover.testing.contract._queue_arguments import QueueArgumentsContract
from failover.testing.contract._support import receive_until

__all__ = ["MessageQueueContract"]

ALL_BYTES = bytes(range(256))


def _count(n: int) -> Any:
    return lambda received: len(received) >= n


def _any(received: list[Message]) -> bool:
    return bool(received)


class MessageQueueContract(QueueArgumentsContract):
    """Subclass it as ``Test...`` and override the `queue` fixture with a fresh, empty queue.

    Override `fifo_queue` too when the adapter offers a FIFO flavour (an SQS ``.fifo`` queue); by
    default it is `queue`, and the ordering test checks order only where ``capabilities.fifo``.
    ``visibility`` is the short visibility timeout the redelivery tests use (whole seconds: SQS and
    Azure take no fractions) and ``patience`` bounds every polling loop.
    """

    visibility = 2
    patience = 20.0

    @pytest.fixture
    def queue(self) -> MessageQueue:
        raise NotImplementedError("a binding of MessageQueueContract overrides the `queue` fixture")

    @pytest.fixture
    def fifo_queue(self, queue: MessageQueue) -> MessageQueue:
        return queue

    def _one(self, queue: MessageQueue, *, visibility: float | None = None) -> Message:
        received = receive_until(queue, _any, within=self.patience, visibility=visibility)
        assert len(received) == 1, f"expected the one message sent, received {len(received)}"
        return received[0]

    def _one_of(self, queue: MessageQueue) -> Message:
        received = receive_until(queue, _any, within=self.patience, visibility=60, max_messages=1)
        assert len(received) == 1, f"receive(1) returned {len(received)} messages"
        return received[0]

    def test_message_round_trips_with_attributes(self, queue: MessageQueue) -> None:
        sent = queue.send(b"hello", attributes={"kind": "order", "trace.id": "abc-123"})
        message = self._one(queue)
        assert message.body == b"hello", f"body came back as {message.body!r}"
        assert dict(message.attributes) == {"kind": "order", "trace.id": "abc-123"}, (
            f"attributes came back as {dict(message.attributes)}"
        )
        assert message.id == sent, f"received id {message.id!r}, send returned {sent!r}"
        assert message.delivery_count == 1, f"a first delivery counted {message.delivery_count}"
        queue.ack(message)

    def test_message_names_its_provider_and_queue(self, queue: MessageQueue) -> None:
        queue.send(b"who")
        message = self._one(queue)
        assert message.provider == queue.provider, f"Message.provider {message.provider!r} != {queue.provider!r}"
        assert message.queue == queue.name, f"Message.queue {message.queue!r} != {queue.name!r}"

    def test_every_byte_value_round_trips(self, queue: MessageQueue) -> None:
        queue.send(ALL_BYTES * 4)
        assert self._one(queue).body == ALL_BYTES * 4, "some byte values were altered (text encoding?)"

    def test_empty_body_round_trips(self, queue: MessageQueue) -> None:
        queue.send(b"")
        assert self._one(queue).body == b"", "an empty body came back non-empty"

    def test_body_at_max_message_size_round_trips(self, queue: MessageQueue) -> None:
        body = os.urandom(queue.capabilities.max_message_size)
        queue.send(body)
        received = self._one(queue).body
        assert received == body, f"a {len(body)}-byte body (the declared maximum) came back as {len(received)} bytes"

    def test_body_one_byte_over_max_message_size_is_refused(self, queue: MessageQueue) -> None:
        with pytest.raises(InvalidRequest):
            queue.send(os.urandom(queue.capabilities.max_message_size + 1))

    def test_too_many_attributes_are_refused(self, queue: MessageQueue) -> None:
        attributes = {f"a{index}": "v" for index in range(queue.capabilities.max_attributes + 1)}
        with pytest.raises(InvalidRequest):
            queue.send(b"x", attributes=attributes)

    @pytest.mark.parametrize(
        "attributes",
        [
            pytest.param({"n": 1}, id="int-value"),
            pytest.param({"n": b"bytes"}, id="bytes-value"),
            pytest.param({"n": ""}, id="empty-value"),
            pytest.param({"bad name": "v"}, id="space-in-name"),
            pytest.param({"failover_x": "v"}, id="reserved-name"),
            pytest.param({"aws.x": "v"}, id="provider-prefix"),
        ],
    )
    def test_invalid_attribute_is_refused(self, queue: MessageQueue, attributes: Any) -> None:
        with pytest.raises(InvalidRequest):
            queue.send(b"x", attributes=attributes)
        assert queue.receive(1, wait=0) == [], "a refused message was delivered"

    def test_invalid_dedup_id_is_refused(self, queue: MessageQueue) -> None:
        with pytest.raises(InvalidRequest):
            queue.send(b"x", dedup_id="has space")

    def test_delay_out_of_range_is_refused(self, queue: MessageQueue) -> None:
        with pytest.raises(InvalidRequest):
            queue.send(b"x", delay=-1)
        if math.isfinite(queue.capabilities.max_delay):
            with pytest.raises(InvalidRequest):
                queue.send(b"x", delay=queue.capabilities.max_delay + 1)

    def test_delayed_message_is_hidden_until_its_delay(self, queue: MessageQueue) -> None:
        delay = min(2.0, queue.capabilities.max_delay)
        queue.send(b"later", delay=delay)
        if delay >= 2:
            assert queue.receive(1) == [], "a message delayed 2 s was delivered at once"
        assert self._one(queue).body == b"later", "the delayed message never arrived"

    def test_unacked_message_is_redelivered_after_visibility_with_higher_count(self, queue: MessageQueue) -> None:
        queue.send(b"again")
        first = self._one(queue, visibility=self.visibility)
        second = self._one(queue, visibility=self.visibility)
        assert (second.id, second.body) == (first.id, first.body), "another message came instead of the unacked one"
        assert second.delivery_count > first.delivery_count, (
            f"delivery_count went {first.delivery_count} -> {second.delivery_count} on redelivery"
        )
        queue.ack(second)

    def test_nack_without_delay_makes_message_receivable_at_once(self, queue: MessageQueue) -> None:
        queue.send(b"retry me")
        first = self._one(queue, visibility=60)
        queue.nack(first)
        second = self._one(queue, visibility=60)
        assert second.id == first.id, "nack did not hand the message back"
        assert second.delivery_count > first.delivery_count, "a nacked message's delivery_count did not rise"
        queue.ack(second)

    def test_nack_with_delay_hides_message_for_that_long(self, queue: MessageQueue) -> None:
        queue.send(b"back off")
        first = self._one(queue, visibility=60)
        queue.nack(first, delay=3)
        assert queue.receive(1) == [], "a message nacked with a 3 s delay was delivered at once"
        assert self._one(queue, visibility=60).id == first.id, "the nacked message never came back"

    def test_acked_message_is_not_redelivered(self, queue: MessageQueue) -> None:
        queue.send(b"done")
        message = self._one(queue, visibility=self.visibility)
        queue.ack(message)
        again = receive_until(queue, _any, within=self.visibility + 2)
        assert again == [], f"an acked message was delivered again: {again}"

    def test_extend_keeps_message_hidden_past_its_visibility(self, queue: MessageQueue) -> None:
        queue.send(b"slow work")
        message = self._one(queue, visibility=self.visibility)
        queue.extend(message, 30)
        early = receive_until(queue, _any, within=self.visibility + 2)
        assert early == [], "an extended message was delivered again within its new visibility"
        queue.ack(message)

    def test_messages_in_flight_are_not_delivered_twice(self, queue: MessageQueue) -> None:
        for index in range(3):
            queue.send(f"m{index}".encode())
        received = receive_until(queue, _count(3), within=self.patience, visibility=60)
        assert sorted(message.body for message in received) == [b"m0", b"m1", b"m2"], "not each message once"

    def test_batch_with_one_bad_entry_delivers_the_others(self, queue: MessageQueue) -> None:
        results = queue.send_batch(
            [
                OutgoingMessage(b"first", attributes={"n": "1"}),
                OutgoingMessage(b"bad", attributes={"failover_reserved": "x"}),
                OutgoingMessage(b"third"),
            ]
        )
        assert [result.ok for result in results] == [True, False, True], f"batch results {results}"
        assert isinstance(results[1].error, InvalidRequest), f"the bad entry failed with {results[1].error!r}"
        received = receive_until(queue, _count(2), within=self.patience, ack=True)
        assert sorted(message.body for message in received) == [b"first", b"third"], "batch delivered wrong bodies"
        assert {message.id for message in received} == {results[0].id, results[2].id}, "batch ids do not match"

    def test_empty_receive_waits_and_returns_nothing(self, queue: MessageQueue) -> None:
        assert queue.receive(1, wait=1) == [], "an empty queue delivered a message"

    def test_receive_returns_early_when_a_message_is_sent_while_it_waits(self, queue: MessageQueue) -> None:
        received: list[Message] = []
        receiver = threading.Thread(target=lambda: received.extend(queue.receive(1, wait=20)), daemon=True)
        receiver.start()
        time.sleep(0.5)  # let the receive start waiting; if it had not, it would still find the message
        queue.send(b"while waiting")
        # Not a timing assertion: the bound is half the wait, so only a receive that sat out its whole
        # wait (never woken by the send) is still running.
        receiver.join(timeout=10)
        returned_early = not receiver.is_alive()
        receiver.join()
        assert returned_early, "a waiting receive was not woken by a send: it sat out its whole 20 s wait"
        assert [message.body for message in received] == [b"while waiting"], f"the waiting receive got {received}"

    def test_receive_respects_max_messages(self, queue: MessageQueue) -> None:
        for index in range(5):
            queue.send(f"m{index}".encode())
        first = queue.receive(2, wait=2, visibility=60)
        assert 1 <= len(first) <= 2, f"receive(2) returned {len(first)} messages"
        for message in first:  # a FIFO queue holds the rest back until these are done
            queue.ack(message)
        rest = receive_until(queue, _count(5 - len(first)), within=self.patience, visibility=60, ack=True)
        bodies = sorted(message.body for message in [*first, *rest])
        assert bodies == [b"m0", b"m1", b"m2", b"m3", b"m4"], f"the five messages came as {bodies}"

    def test_dedup_id_is_on_the_received_message(self, queue: MessageQueue) -> None:
        queue.send(b"once", dedup_id="order-42", attributes={"k": "v"})
        message = self._one(queue)
        assert message.dedup_id == "order-42", f"dedup_id came back as {message.dedup_id!r}"
        assert dict(message.attributes) == {"k": "v"}, f"the dedup id leaked into attributes {dict(message.attributes)}"

    def test_fifo_queue_keeps_send_order(self, fifo_queue: MessageQueue) -> None:
        bodies = [f"step-{index}".encode() for index in range(6)]
        for index, body in enumerate(bodies):
            fifo_queue.send(body, dedup_id=f"step-{index}")
        received = [message.body for message in receive_until(fifo_queue, _count(6), within=self.patience, ack=True)]
        if fifo_queue.capabilities.fifo:
            assert received == bodies, f"a FIFO queue delivered {received}"
        else:
            assert sorted(received) == sorted(bodies), f"the queue delivered {received}"

    def test_fifo_queue_holds_back_what_follows_a_message_in_flight(self, fifo_queue: MessageQueue) -> None:
        for index in range(3):
            fifo_queue.send(f"step-{index}".encode(), dedup_id=f"held-{index}")
        first = self._one_of(fifo_queue)
        behind = fifo_queue.receive(fifo_queue.capabilities.max_batch, wait=1, visibility=60)
        if not fifo_queue.capabilities.fifo:
            more = receive_until(fifo_queue, _count(2 - len(behind)), within=self.patience, visibility=60)
            bodies = sorted(message.body for message in [first, *behind, *more])
            assert bodies == [b"step-0", b"step-1", b"step-2"], f"a message in flight held back the others: {bodies}"
            return
        assert first.body == b"step-0", f"a FIFO queue delivered {first.body!r} first"
        assert behind == [], f"a FIFO queue delivered {[m.body for m in behind]} while step-0 was in flight"
        fifo_queue.nack(first)
        after = receive_until(fifo_queue, _count(3), within=self.patience, ack=True)
        assert [message.body for message in after] == [b"step-0", b"step-1", b"step-2"], "FIFO order after a nack"

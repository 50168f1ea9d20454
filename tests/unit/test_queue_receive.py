"""FailoverQueue.receive on memory queues: nothing stranded, settlements go back to the delivering queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.errors import AllProvidersFailed, InvalidRequest
from failover.health import HealthState
from failover.interfaces import Message
from failover.queue import DEFAULT_DRAIN_INTERVAL
from tests.unit.queue_rig import Rig, bodies


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.close()


def _outage(rig: Rig, *sent: bytes) -> None:
    """The primary goes down; ``sent`` go to the secondary meanwhile."""
    rig.primary.fail()
    for body in sent:
        rig.queue.send(body)
    assert rig.state("primary") is HealthState.DOWN


def test_receive_takes_from_the_primary_and_leaves_the_secondary_alone_when_nothing_failed(rig: Rig) -> None:
    rig.queue.send(b"a")
    assert bodies(rig.queue.receive(10)) == [b"a"]
    assert "receive" not in rig.secondary.calls


def test_while_the_primary_is_down_receive_takes_what_was_sent_to_the_secondary(rig: Rig) -> None:
    _outage(rig, b"a", b"b")
    assert bodies(rig.queue.receive(10)) == [b"a", b"b"]


def test_messages_sent_during_an_outage_are_drained_after_the_primary_is_back(rig: Rig) -> None:
    _outage(rig, b"a", b"b")
    rig.recover(rig.primary)
    rig.queue.send(b"c")  # the primary takes sends again
    assert bodies(rig.held(rig.primary)) == [b"c"]
    assert bodies(rig.queue.receive(10)) == [b"a", b"b", b"c"]


def test_the_secondary_leaves_the_drain_set_once_a_receive_finds_it_empty(rig: Rig) -> None:
    _outage(rig, b"a")
    rig.recover(rig.primary)
    received = rig.queue.receive(10)
    for message in received:
        rig.queue.ack(message)
    assert "secondary" in rig.queue.draining, "left the drain set before it was seen empty"
    assert rig.queue.receive(10) == []
    assert "secondary" not in rig.queue.draining
    polls = rig.secondary.calls["receive"]
    rig.queue.receive(10)
    assert rig.secondary.calls["receive"] == polls, "an empty secondary is still polled on every receive"


def test_a_sweep_finds_what_another_producer_left_on_the_secondary(rig: Rig) -> None:
    rig.secondary.inner.send(b"from another process")
    assert rig.queue.receive(10) == []
    assert "receive" not in rig.secondary.calls
    rig.clock.advance(DEFAULT_DRAIN_INTERVAL)
    assert bodies(rig.queue.receive(10)) == [b"from another process"]


def test_a_sweep_that_finds_messages_keeps_draining_that_queue_until_it_comes_back_empty(rig: Rig) -> None:
    # Another producer's backlog on the secondary, more than one receive takes: draining it one batch
    # a sweep interval never catches up with a producer that keeps adding to it.
    for index in range(25):
        rig.secondary.inner.send(b"left %d" % index)
    rig.clock.advance(DEFAULT_DRAIN_INTERVAL)
    received: list[Message] = []
    for _ in range(4):  # no sweep comes due meanwhile: the clock stands still
        batch = rig.queue.receive(10)
        received += batch
        for message in batch:
            rig.queue.ack(message)
    assert len(received) == 25
    assert "secondary" not in rig.queue.draining, "still marked after a receive found it empty"


def test_secondaries_are_polled_without_waiting_and_the_primary_for_the_whole_wait(rig: Rig) -> None:
    _outage(rig, b"a")
    rig.recover(rig.primary)
    (message,) = rig.queue.receive(10)
    rig.queue.ack(message)
    start = rig.clock.monotonic()
    sleeps = len(rig.clock.sleeps)
    assert rig.queue.receive(10, wait=5) == []
    # The memory queues wait on the manual clock: only the primary's long poll moved it.
    assert rig.clock.sleeps[sleeps:] == [5.0]
    assert rig.clock.monotonic() - start == 5.0


def test_the_time_a_slow_secondary_takes_comes_out_of_the_wait(rig: Rig) -> None:
    _outage(rig, b"a")
    rig.recover(rig.primary)
    (message,) = rig.queue.receive(10)
    rig.queue.ack(message)  # the secondary stays marked until a receive finds it empty
    rig.secondary.clock, rig.secondary.latency = rig.clock, 0.75
    start = rig.clock.monotonic()
    assert rig.queue.receive(10, wait=2) == []
    assert rig.clock.monotonic() - start == pytest.approx(2.0), "the caller was held past its wait"


def test_received_messages_name_the_queue_that_delivered_them(rig: Rig) -> None:
    rig.queue.send(b"p")
    _outage(rig, b"s")
    rig.recover(rig.primary)
    by_body = {message.body: message for message in rig.queue.receive(10)}
    assert (by_body[b"p"].queue, by_body[b"s"].queue) == ("primary", "secondary")
    assert {message.provider for message in by_body.values()} == {"memory"}


def _one_from_the_secondary(rig: Rig) -> Message:
    _outage(rig, b"s")
    rig.recover(rig.primary)
    (message,) = rig.queue.receive(10)
    assert message.queue == "secondary"
    return message


def test_ack_goes_to_the_queue_that_delivered_the_message(rig: Rig) -> None:
    message = _one_from_the_secondary(rig)
    rig.queue.ack(message)
    assert (rig.primary.calls.get("ack", 0), rig.secondary.calls["ack"]) == (0, 1)
    assert rig.held(rig.secondary) == []


def test_nack_goes_to_the_queue_that_delivered_the_message(rig: Rig) -> None:
    message = _one_from_the_secondary(rig)
    rig.queue.nack(message)
    assert (rig.primary.calls.get("nack", 0), rig.secondary.calls["nack"]) == (0, 1)
    assert bodies(rig.queue.receive(10)) == [b"s"]


def test_extend_goes_to_the_queue_that_delivered_the_message(rig: Rig) -> None:
    message = _one_from_the_secondary(rig)
    rig.queue.extend(message, 120)
    assert (rig.primary.calls.get("extend", 0), rig.secondary.calls["extend"]) == (0, 1)
    rig.clock.advance(60)  # past the default visibility of 30 s, inside the extension
    assert rig.queue.receive(10) == []


def test_a_message_from_elsewhere_is_refused_before_any_queue_is_called(rig: Rig) -> None:
    rig.primary.inner.send(b"x")
    (foreign,) = rig.primary.inner.receive()
    with pytest.raises(InvalidRequest):
        rig.queue.ack(foreign)
    assert "ack" not in rig.primary.calls


def test_a_failing_secondary_does_not_fail_the_receive(rig: Rig) -> None:
    _outage(rig, b"a")
    rig.recover(rig.primary)
    rig.queue.send(b"b")
    rig.secondary.fail(None, "receive")
    assert bodies(rig.queue.receive(10)) == [b"b"]
    assert "secondary" in rig.queue.draining, "a secondary that could not be read left the drain set"


def test_receive_raises_when_no_queue_answers(rig: Rig) -> None:
    rig.primary.fail()
    rig.secondary.fail()
    with pytest.raises(AllProvidersFailed):
        rig.queue.receive()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"max_messages": 0}, id="max-messages-zero"),
        pytest.param({"max_messages": 11}, id="max-messages-over-the-batch"),
        pytest.param({"wait": -1}, id="negative-wait"),
        pytest.param({"visibility": 13 * 3600}, id="visibility-too-long"),
    ],
)
def test_bad_receive_arguments_are_refused_before_any_queue_is_called(rig: Rig, options: dict[str, float]) -> None:
    with pytest.raises(InvalidRequest):
        rig.queue.receive(**options)  # type: ignore[arg-type]
    assert (rig.primary.calls, rig.secondary.calls) == ({}, {})


def test_with_every_circuit_open_after_a_heal_receive_asks_one_queue_instead_of_failing(rig: Rig) -> None:
    rig.primary.inner.send(b"waiting", dedup_id="w-1")
    rig.primary.fail(None)
    rig.secondary.fail(None)
    with pytest.raises(AllProvidersFailed):
        rig.queue.receive(wait=0)  # both refuse: both circuits open
    assert rig.state(rig.primary.name) is rig.state(rig.secondary.name) is HealthState.DOWN
    rig.primary.heal()
    rig.secondary.heal()  # both back; no probe has run yet
    rig.clock.advance(1.0)  # a last resort is tried at most once a second per queue
    got = rig.queue.receive(10, wait=0)  # raised AllProvidersFailed before: no queue was available
    assert bodies(got) == [b"waiting"]
    assert rig.state(rig.primary.name) is HealthState.PROBING, "the queue that answered is not half-open"


def test_with_every_queue_still_down_the_last_resort_fails_and_the_receive_raises(rig: Rig) -> None:
    rig.primary.fail(None)
    rig.secondary.fail(None)
    for _ in range(3):
        with pytest.raises(AllProvidersFailed):
            rig.queue.receive(wait=0)

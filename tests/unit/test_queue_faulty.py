"""FaultyQueue: scripted failures in front of any MessageQueue, with a count of every call."""

from __future__ import annotations

import pytest

from failover.adapters.memory import MemoryQueue
from failover.clock import ManualClock
from failover.errors import OutcomeUnknown, ProviderUnavailable, Reason
from failover.interfaces import MessageQueue, OutgoingMessage
from failover.testing.faulty import timed_out, unresolvable
from failover.testing.faulty_queue import FaultyQueue


@pytest.fixture
def faulty() -> FaultyQueue:
    return FaultyQueue(MemoryQueue("inner"))


def test_a_faulty_queue_is_a_message_queue_named_like_the_one_it_wraps(faulty: FaultyQueue) -> None:
    typed: MessageQueue = faulty
    assert isinstance(typed, MessageQueue)
    assert (typed.name, typed.provider) == ("inner", "memory")
    assert FaultyQueue(MemoryQueue("inner"), name="renamed").name == "renamed"


def test_without_rules_every_call_passes_and_is_counted(faulty: FaultyQueue) -> None:
    faulty.send(b"x")
    (message,) = faulty.receive()
    faulty.extend(message, 10)
    faulty.ack(message)
    assert faulty.calls == {"send": 1, "receive": 1, "extend": 1, "ack": 1}
    assert (faulty.total_calls, faulty.failures) == (4, {})


def test_fail_defaults_to_a_refused_connection_on_every_operation(faulty: FaultyQueue) -> None:
    faulty.fail()
    for operation, call in (("send", lambda: faulty.send(b"x")), ("receive", faulty.receive)):
        with pytest.raises(ProviderUnavailable) as raised:
            call()
        assert raised.value.reason is Reason.REFUSED
        assert (raised.value.operation, raised.value.provider) == (operation, "memory")
    assert faulty.failures == {"send": 1, "receive": 1}


def test_a_rule_limited_in_times_ends_by_itself(faulty: FaultyQueue) -> None:
    faulty.fail(None, "send", times=2)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            faulty.send(b"x")
    faulty.send(b"x")
    assert (faulty.calls["send"], faulty.failures["send"]) == (3, 2)


def test_after_makes_the_call_then_raises(faulty: FaultyQueue) -> None:
    faulty.fail(timed_out(), "send", after=True)
    with pytest.raises(OutcomeUnknown):
        faulty.send(b"x")
    assert len(faulty.inner.receive(10)) == 1, "after=True did not make the call"


def test_heal_removes_every_rule(faulty: FaultyQueue) -> None:
    faulty.fail()
    faulty.heal()
    faulty.send(b"x")
    assert faulty.failures == {}


def test_an_entries_rule_fails_only_the_entries_it_selects(faulty: FaultyQueue) -> None:
    faulty.fail(None, "send_batch", entries=lambda message: message.body == b"b")
    results = faulty.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b"), OutgoingMessage(b"c")])
    assert [result.ok for result in results] == [True, False, True]
    assert sorted(message.body for message in faulty.inner.receive(10)) == [b"a", b"c"]
    assert (faulty.calls["send_batch"], faulty.failures["send_batch"]) == (1, 1)


def test_a_batch_rule_without_entries_fails_the_whole_call_once(faulty: FaultyQueue) -> None:
    faulty.fail(None, "send_batch", times=1)
    with pytest.raises(ProviderUnavailable):
        faulty.send_batch([OutgoingMessage(b"a")])
    assert [result.ok for result in faulty.send_batch([OutgoingMessage(b"a")])] == [True]
    assert (faulty.calls["send_batch"], faulty.failures["send_batch"]) == (2, 1)


def test_each_failure_raises_a_fresh_copy_of_the_error(faulty: FaultyQueue) -> None:
    template = unresolvable()
    faulty.fail(template)
    raised = []
    for _ in range(2):
        with pytest.raises(ProviderUnavailable) as info:
            faulty.receive()
        raised.append(info.value)
    assert raised[0] is not raised[1]
    assert raised[0] is not template
    assert raised[1].reason is Reason.DNS


def test_latency_advances_a_manual_clock_on_each_call() -> None:
    clock = ManualClock()
    faulty = FaultyQueue(MemoryQueue("inner", clock=clock), clock=clock, latency=0.25)
    start = clock.monotonic()
    faulty.send(b"x")
    faulty.receive()
    assert clock.monotonic() - start == 0.5


@pytest.mark.parametrize(
    ("operations", "options", "why"),
    [
        pytest.param(("publish",), {}, "unknown operations", id="unknown-operation"),
        pytest.param((), {"times": 0}, "times", id="zero-times"),
        pytest.param(("send",), {"entries": bool}, "send_batch", id="entries-outside-send-batch"),
    ],
)
def test_a_bad_rule_is_refused(
    faulty: FaultyQueue, operations: tuple[str, ...], options: dict[str, object], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        faulty.fail(None, *operations, **options)  # type: ignore[arg-type]

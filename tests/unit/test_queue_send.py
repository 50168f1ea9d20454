"""FailoverQueue.send and send_batch on memory queues: where messages go, what is checked first."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from failover.adapters.aws import SqsQueue
from failover.adapters.azure import AzureQueue
from failover.adapters.memory import MemoryQueue
from failover.config import FailoverConfig, parse_config
from failover.errors import AllProvidersFailed, ConfigError, InvalidRequest, NotFound, OutcomeUnknown
from failover.health import HealthState
from failover.interfaces import MessageQueue, OutgoingMessage, QueueCapabilities
from failover.queue import FailoverQueue
from tests.unit.queue_rig import SETTINGS, Rig, bodies


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.close()


def test_failover_queue_is_a_message_queue(rig: Rig) -> None:
    typed: MessageQueue = rig.queue  # mypy --strict checks the Protocol here
    assert isinstance(typed, MessageQueue)
    assert (typed.name, typed.provider) == ("failover:primary+secondary", "failover")


def test_capabilities_are_the_strictest_of_the_queues_less_the_failover_id() -> None:
    small = QueueCapabilities(max_message_size=100, max_attributes=5, max_delay=60, max_batch=4, max_visibility=600)
    large = QueueCapabilities(max_message_size=1000, max_attributes=9, max_delay=900, fifo=True, native_dedup=True)
    with FailoverQueue([MemoryQueue("a", capabilities=small), MemoryQueue("b", capabilities=large)]) as queue:
        caps = queue.capabilities
    assert (caps.max_message_size, caps.max_attributes, caps.max_delay) == (100, 4, 60)
    assert (caps.max_batch, caps.max_visibility, caps.fifo, caps.native_dedup) == (4, 600, False, False)


def test_send_goes_to_the_first_queue_while_it_is_healthy(rig: Rig) -> None:
    rig.queue.send(b"one")
    assert bodies(rig.held(rig.primary)) == [b"one"]
    assert "send" not in rig.secondary.calls


def test_send_fails_over_on_a_failover_error_and_marks_the_secondary_for_draining(rig: Rig) -> None:
    rig.primary.fail(None, "send")  # refused: the circuit opens at once
    rig.queue.send(b"during the outage")
    assert rig.primary.calls["send"] == 1
    assert bodies(rig.held(rig.secondary)) == [b"during the outage"]
    assert rig.state("primary") is HealthState.DOWN
    assert "secondary" in rig.queue.draining
    rig.queue.send(b"next")
    assert rig.primary.calls["send"] == 1, "a DOWN queue got a send"


def test_send_does_not_fail_over_on_a_fatal_error(rig: Rig) -> None:
    rig.primary.fail(NotFound("no such queue"), "send")
    with pytest.raises(NotFound):
        rig.queue.send(b"x")
    assert "send" not in rig.secondary.calls, "a FATAL answer was sent to the next queue"
    assert rig.state("primary") is HealthState.HEALTHY


@pytest.mark.parametrize(
    ("body", "options"),
    [
        pytest.param(b"x" * (1024 * 1024 + 1), {}, id="body-too-large"),
        pytest.param("text", {}, id="body-not-bytes"),
        pytest.param(b"x", {"attributes": {"failover_id": "mine"}}, id="reserved-attribute"),
        pytest.param(b"x", {"attributes": {f"a{i}": "v" for i in range(10)}}, id="too-many-attributes"),
        pytest.param(b"x", {"dedup_id": "has space"}, id="bad-dedup-id"),
        pytest.param(b"x", {"delay": 901}, id="delay-too-long"),
        pytest.param(b"\x00failover-claim\x00failover-claims/x", {}, id="claim-marker-without-a-store"),
    ],
)
def test_a_bad_message_is_refused_before_any_queue_is_called(
    rig: Rig, body: object, options: dict[str, object]
) -> None:
    with pytest.raises(InvalidRequest):
        rig.queue.send(body, **options)  # type: ignore[arg-type]
    assert (rig.primary.calls, rig.secondary.calls) == ({}, {})


def test_the_caller_gets_nine_attributes_when_the_queues_take_ten(rig: Rig) -> None:
    assert rig.queue.capabilities.max_attributes == 9
    rig.queue.send(b"x", attributes={f"a{i}": "v" for i in range(9)})
    (held,) = rig.held(rig.primary)
    assert len(held.attributes) == 9


def test_every_message_carries_a_failover_id_the_callers_dedup_id_or_a_fresh_one(rig: Rig) -> None:
    rig.queue.send(b"mine", dedup_id="order-17")
    rig.queue.send(b"fresh")
    ids = {message.body: message.dedup_id for message in rig.held(rig.primary)}
    assert ids[b"mine"] == "order-17"
    fresh = ids[b"fresh"]
    assert fresh is not None
    assert re.fullmatch("[0-9a-f]{32}", fresh), f"not a uuid4 hex: {fresh!r}"


def test_a_send_with_unknown_outcome_is_sent_again_with_the_same_failover_id(rig: Rig) -> None:
    rig.primary.fail(OutcomeUnknown("the answer was lost"), "send", times=1, after=True)
    rig.queue.send(b"x", dedup_id="order-1")
    (first,) = rig.held(rig.primary)
    (second,) = rig.held(rig.secondary)
    assert first.dedup_id == second.dedup_id == "order-1"
    assert {"primary", "secondary"} <= rig.queue.draining, "a queue that may hold the message is not drained"


def test_a_send_every_queue_refuses_raises_all_providers_failed(rig: Rig) -> None:
    rig.primary.fail(None, "send")
    rig.secondary.fail(None, "send")
    with pytest.raises(AllProvidersFailed) as raised:
        rig.queue.send(b"x")
    assert len(raised.value.errors) == 2


# send_batch


def test_a_batch_entry_the_first_queue_failed_goes_to_the_next_and_the_rest_stay(rig: Rig) -> None:
    rig.primary.fail(None, "send_batch", entries=lambda message: message.body == b"b")
    results = rig.queue.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b"), OutgoingMessage(b"c")])
    assert [result.ok for result in results] == [True, True, True]
    assert bodies(rig.held(rig.primary)) == [b"a", b"c"]
    assert bodies(rig.held(rig.secondary)) == [b"b"]
    assert (rig.primary.calls["send_batch"], rig.secondary.calls["send_batch"]) == (1, 1)


def test_a_bad_batch_entry_fails_alone_and_reaches_no_queue(rig: Rig) -> None:
    results = rig.queue.send_batch(
        [OutgoingMessage(b"a"), OutgoingMessage(b"b", attributes={"failover_x": "v"}), OutgoingMessage(b"c")]
    )
    assert [result.ok for result in results] == [True, False, True]
    assert isinstance(results[1].error, InvalidRequest)
    assert bodies(rig.held(rig.primary)) == [b"a", b"c"]


def test_a_batch_entry_the_queue_rejects_as_fatal_is_not_sent_elsewhere(rig: Rig) -> None:
    rig.primary.fail(InvalidRequest("too large here"), "send_batch", entries=lambda message: message.body == b"b")
    results = rig.queue.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b")])
    assert [result.ok for result in results] == [True, False]
    assert "send_batch" not in rig.secondary.calls


def test_a_batch_the_first_queue_fails_whole_moves_whole_and_counts_against_its_health(rig: Rig) -> None:
    rig.primary.fail(None, "send_batch")
    results = rig.queue.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b")])
    assert all(result.ok for result in results)
    assert bodies(rig.held(rig.secondary)) == [b"a", b"b"]
    assert rig.state("primary") is HealthState.DOWN


def test_a_batch_whose_every_entry_failed_counts_as_the_queue_failing(rig: Rig) -> None:
    # What SqsQueue answers when the whole SendMessageBatch call failed: every entry carries the error.
    rig.primary.fail(None, "send_batch", entries=lambda message: True)
    results = rig.queue.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b")])
    assert all(result.ok for result in results)
    assert rig.state("primary") is HealthState.DOWN, "the primary's health never heard of the failure"


def test_a_batch_larger_than_the_queues_take_goes_in_several_calls(rig: Rig) -> None:
    results = rig.queue.send_batch([OutgoingMessage(b"%d" % n) for n in range(25)])
    assert all(result.ok for result in results)
    assert rig.primary.calls["send_batch"] == 3


def test_a_batch_entry_every_queue_failed_carries_the_last_error(rig: Rig) -> None:
    rig.primary.fail(None, "send_batch", entries=lambda message: message.body == b"b")
    rig.secondary.fail(None, "send_batch", entries=lambda message: True)
    results = rig.queue.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b")])
    assert [result.ok for result in results] == [True, False]
    assert rig.secondary.calls["send_batch"] == 1


# Construction


def test_from_config_builds_the_adapters_in_order_without_calling_them() -> None:
    sqs = {"kind": "sqs", "queue": "orders", "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1"}
    azure = {"kind": "azure_queue", "queue": "orders", "connection_string": "UseDevelopmentStorage=true"}
    config = parse_config(FailoverConfig, {"queues": [sqs, azure]})
    with FailoverQueue.from_config(config, settings=SETTINGS) as queue:
        assert [type(adapter) for adapter in queue.queues] == [SqsQueue, AzureQueue]
        assert queue.name == "failover:aws:sqs:orders+" + queue.queues[1].name


def test_from_config_without_queues_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        FailoverQueue.from_config(FailoverConfig())


def test_two_queues_of_one_name_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unique"):
        FailoverQueue([MemoryQueue("same"), MemoryQueue("same")])


def test_rig_starts_with_both_queues_healthy_and_nothing_to_drain() -> None:
    rig = Rig()
    try:
        assert [rig.state(name) for name in ("primary", "secondary")] == [HealthState.HEALTHY] * 2
        assert rig.queue.draining == frozenset()
    finally:
        rig.close()

"""`QueueArgumentsContract`: every argument of every `MessageQueue` call refused with `InvalidRequest`
when its type or value is wrong, before any provider is called (part of `MessageQueueContract`).

A refused send leaves nothing on the queue; a refused ack, nack or extend leaves the message as it
was (it can still be acked).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from failover.errors import InvalidRequest
from failover.interfaces import Message, MessageQueue, OutgoingMessage
from failover.testing.contract._support import receive_until

__all__ = ["QueueArgumentsContract"]

_NAN, _INF = math.nan, math.inf

# (keyword arguments of send, what is wrong with them)
BAD_SENDS: list[Any] = [
    pytest.param({"body": "text"}, id="body-str"),
    pytest.param({"body": None}, id="body-none"),
    pytest.param({"body": True}, id="body-bool"),
    pytest.param({"body": 7}, id="body-int"),
    pytest.param({"attributes": [("a", "b")]}, id="attributes-list"),
    pytest.param({"attributes": "a=b"}, id="attributes-str"),
    pytest.param({"attributes": {"a": True}}, id="attribute-bool"),
    pytest.param({"attributes": {1: "v"}}, id="attribute-name-int"),
    pytest.param({"dedup_id": 5}, id="dedup-int"),
    pytest.param({"dedup_id": b"abc"}, id="dedup-bytes"),
    pytest.param({"dedup_id": ""}, id="dedup-empty"),
    pytest.param({"delay": _NAN}, id="delay-nan"),
    pytest.param({"delay": _INF}, id="delay-inf"),
    pytest.param({"delay": -1}, id="delay-negative"),
    pytest.param({"delay": True}, id="delay-bool"),
    pytest.param({"delay": "1"}, id="delay-str"),
    pytest.param({"timeout": _NAN}, id="timeout-nan"),
    pytest.param({"timeout": 0}, id="timeout-zero"),
    pytest.param({"timeout": -1}, id="timeout-negative"),
    pytest.param({"timeout": _INF}, id="timeout-inf"),
    pytest.param({"timeout": True}, id="timeout-bool"),
    pytest.param({"timeout": "1"}, id="timeout-str"),
]

BAD_BATCHES: list[Any] = [
    pytest.param({"messages": None}, id="messages-none"),
    pytest.param({"messages": b"xy"}, id="messages-bytes"),
    pytest.param({"messages": [b"x"]}, id="entry-bytes"),
    pytest.param({"messages": [OutgoingMessage(b"x")], "timeout": _NAN}, id="timeout-nan"),
    pytest.param({"messages": [OutgoingMessage(b"x")], "timeout": -1}, id="timeout-negative"),
]

BAD_RECEIVES: list[Any] = [
    pytest.param({"max_messages": 0}, id="max-zero"),
    pytest.param({"max_messages": -1}, id="max-negative"),
    pytest.param({"max_messages": True}, id="max-bool"),
    pytest.param({"max_messages": 1.0}, id="max-float"),
    pytest.param({"max_messages": "1"}, id="max-str"),
    pytest.param({"max_messages": 10_000}, id="max-over-batch"),
    pytest.param({"wait": _NAN}, id="wait-nan"),
    pytest.param({"wait": _INF}, id="wait-inf"),
    pytest.param({"wait": -1}, id="wait-negative"),
    pytest.param({"wait": True}, id="wait-bool"),
    pytest.param({"wait": "0"}, id="wait-str"),
    pytest.param({"visibility": _NAN}, id="visibility-nan"),
    pytest.param({"visibility": -1}, id="visibility-negative"),
    pytest.param({"visibility": 10**9}, id="visibility-too-long"),
    pytest.param({"visibility": True}, id="visibility-bool"),
    pytest.param({"timeout": _NAN}, id="timeout-nan"),
    pytest.param({"timeout": -1}, id="timeout-negative"),
]

# (the call, given the queue and a delivered message)
SettleCall = Callable[[MessageQueue, Message], object]
BAD_SETTLES: list[Any] = [
    pytest.param(lambda q, m: q.ack(m, timeout=_NAN), id="ack-timeout-nan"),
    pytest.param(lambda q, m: q.ack(m, timeout=-1), id="ack-timeout-negative"),
    pytest.param(lambda q, m: q.ack(None), id="ack-none"),
    pytest.param(lambda q, m: q.ack(m.receipt), id="ack-receipt-not-message"),
    pytest.param(lambda q, m: q.nack(m, delay=_NAN), id="nack-delay-nan"),
    pytest.param(lambda q, m: q.nack(m, delay=_INF), id="nack-delay-inf"),
    pytest.param(lambda q, m: q.nack(m, delay=-1), id="nack-delay-negative"),
    pytest.param(lambda q, m: q.nack(m, delay=True), id="nack-delay-bool"),
    pytest.param(lambda q, m: q.nack(m, delay=10**9), id="nack-delay-too-long"),
    pytest.param(lambda q, m: q.nack(m, timeout=_NAN), id="nack-timeout-nan"),
    pytest.param(lambda q, m: q.nack("m"), id="nack-str"),
    pytest.param(lambda q, m: q.extend(m, _NAN), id="extend-nan"),
    pytest.param(lambda q, m: q.extend(m, -1), id="extend-negative"),
    pytest.param(lambda q, m: q.extend(m, True), id="extend-bool"),
    pytest.param(lambda q, m: q.extend(m, "30"), id="extend-str"),
    pytest.param(lambda q, m: q.extend(m, 10**9), id="extend-too-long"),
    pytest.param(lambda q, m: q.extend(m, 30, timeout=-1), id="extend-timeout-negative"),
    pytest.param(lambda q, m: q.extend(None, 30), id="extend-none"),
]


class QueueArgumentsContract:
    """Mixed into `MessageQueueContract`; bind it alone (a `queue` fixture) to check a wrapper's arguments."""

    patience = 20.0

    @pytest.mark.parametrize("arguments", BAD_SENDS)
    def test_send_with_a_bad_argument_is_refused(self, queue: MessageQueue, arguments: dict[str, Any]) -> None:
        call = {"body": b"x", **arguments}
        with pytest.raises(InvalidRequest):
            queue.send(**call)
        assert queue.receive(1, wait=0) == [], f"a send refused for {arguments} was delivered"

    @pytest.mark.parametrize("arguments", BAD_BATCHES)
    def test_send_batch_with_a_bad_argument_is_refused(self, queue: MessageQueue, arguments: dict[str, Any]) -> None:
        with pytest.raises(InvalidRequest):
            queue.send_batch(**arguments)
        assert queue.receive(1, wait=0) == [], f"a batch refused for {arguments} was delivered"

    @pytest.mark.parametrize("arguments", BAD_RECEIVES)
    def test_receive_with_a_bad_argument_is_refused(self, queue: MessageQueue, arguments: dict[str, Any]) -> None:
        with pytest.raises(InvalidRequest):
            queue.receive(**arguments)

    @pytest.mark.parametrize("call", BAD_SETTLES)
    def test_ack_nack_extend_with_a_bad_argument_are_refused(self, queue: MessageQueue, call: SettleCall) -> None:
        queue.send(b"settle me")
        received = receive_until(queue, bool, within=self.patience, visibility=60, max_messages=1)
        assert received, "the message sent was never received"
        with pytest.raises(InvalidRequest):
            call(queue, received[0])
        queue.ack(received[0])  # the refused call left the message in flight, its receipt valid

"""FailoverQueue calls: ``timeout=`` is the whole call's deadline, every request inside it included (manual clock)."""

from __future__ import annotations

from typing import Any

import pytest

from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.clock import ManualClock
from failover.engine import EngineSettings
from failover.interfaces import Message, QueueCapabilities
from failover.queue import FailoverQueue


class _SlowAcks(MemoryQueue):
    """Acks take ``seconds`` of the manual clock."""

    def __init__(self, name: str, clock: ManualClock, seconds: float, capabilities: QueueCapabilities) -> None:
        super().__init__(name, clock=clock, capabilities=capabilities)
        self.manual = clock
        self.seconds = seconds

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        self.manual.advance(self.seconds)
        super().ack(message, timeout=timeout)


class _Deletes(MemoryStore):
    """Records each delete's timeout."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.timeouts: list[float | None] = []

    def delete(self, key: str, **options: Any) -> None:
        self.timeouts.append(options.get("timeout"))
        super().delete(key, **options)


def test_an_acks_claim_check_delete_gets_what_the_ack_left_of_the_deadline() -> None:
    clock = ManualClock()
    small = QueueCapabilities(max_message_size=512, max_attributes=10, max_delay=0.0)
    queue_ = _SlowAcks("q", clock, 0.6, small)
    claims = _Deletes("claims")
    queue = FailoverQueue([queue_], settings=EngineSettings(start_probers=False), clock=clock, claim_check=claims)
    try:
        queue.send(b"x" * 1000)  # too big for the queue: the body goes to the claim-check store
        (message,) = queue.receive(1)
        queue.ack(message, timeout=1.0)
    finally:
        queue.close()
    assert claims.timeouts == [pytest.approx(0.4)], "the claim-check delete after the ack got a fresh deadline"

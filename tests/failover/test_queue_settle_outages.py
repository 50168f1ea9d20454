"""Receives and acks while SQS is down and Azure Queue is healthy, on the local clouds.

SQS is moto behind a `FaultProxy` (or moto SIGSTOPped); Azure Queue is Azurite. No receive and no
ack may fail while Azure Queue answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from failover.adapters.aws import SqsQueue
from failover.adapters.azure import AzureQueue
from failover.engine import EngineSettings
from failover.health import HealthState
from failover.queue import FailoverQueue
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy

pytestmark = pytest.mark.emulator

SETTINGS = EngineSettings(start_probers=False, attempt_timeout=1.0, probe_timeout=1.0, deadline=5.0)
FAST = {"connect_timeout": 0.5, "read_timeout": 1.0}
VISIBILITY = 2.0


@dataclass
class Pair:
    queue: FailoverQueue
    sqs: SqsQueue
    azure: AzureQueue
    proxy: FaultProxy

    def sqs_state(self) -> HealthState:
        return self.queue.engine.health[self.sqs.name].state


@pytest.fixture
def pair(local_clouds: LocalClouds, unique_name: str, tmp_path: Path) -> Iterator[Pair]:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy:
        sqs = SqsQueue(local_clouds.aws.sqs_config(unique_name, endpoint_url=f"http://127.0.0.1:{proxy.port}", **FAST))
        azure = AzureQueue(local_clouds.azure.azure_queue_config(unique_name, connect_timeout=0.5, read_timeout=2.0))
        queue = FailoverQueue([sqs, azure], settings=SETTINGS, dedup=tmp_path / "dedup.sqlite", drain_interval=None)
        try:
            yield Pair(queue, sqs, azure, proxy)
        finally:
            queue.close()


def _eventually(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.1)


def test_ack_on_a_queue_gone_down_is_kept_and_the_redelivery_is_dropped(pair: Pair) -> None:
    pair.queue.send(b"order 1", dedup_id="order-1")
    [message] = pair.queue.receive(1, wait=5, visibility=VISIBILITY)
    assert message.queue == pair.sqs.name
    pair.proxy.set(Fault.refuse())
    pair.queue.ack(message)  # raised AllProvidersFailed before: the queue that delivered it is down
    assert pair.queue.pending_acks == 1, "the ack SQS could not take is not kept"
    pair.proxy.clear()
    handed_out: list[bytes] = []

    def settled() -> bool:
        pair.queue.engine.probe_now()
        handed_out.extend(m.body for m in pair.queue.receive(10, wait=0.5, visibility=VISIBILITY))
        return pair.queue.pending_acks == 0 and pair.sqs.receive(1, wait=0) == []

    _eventually(settled, "the pending ack landed and SQS is empty")
    assert handed_out == [], f"a message acked while its queue was down was handed out again: {handed_out}"


def test_ack_survives_its_queue_being_down_and_lands_in_the_background(pair: Pair) -> None:
    pair.queue.send(b"order 2")
    [message] = pair.queue.receive(1, wait=5, visibility=30)
    pair.proxy.set(Fault.refuse())
    pair.queue.ack(message)
    pair.proxy.clear()

    def landed() -> bool:
        pair.queue.engine.probe_now()  # the probers' work (they are off in these tests); no receive is made
        return pair.queue.pending_acks == 0

    _eventually(landed, "the background thread retried the ack")
    assert pair.sqs.receive(1, wait=0, visibility=30) == [], "the message is still on SQS"


@pytest.mark.parametrize("hang", ["stall", "sigstop"])
def test_receive_returns_what_azure_has_while_sqs_hangs(pair: Pair, hang: str, local_clouds: LocalClouds) -> None:
    for n in range(6):
        pair.azure.send(b"from azure %d" % n, dedup_id=f"azure-{n}")
    if hang == "stall":
        pair.proxy.set(Fault.stall())
    else:
        local_clouds.pause("aws")
    got: list[bytes] = []
    try:
        for _ in range(6):  # across the breaker's threshold: SQS goes from UP to DOWN meanwhile
            for message in pair.queue.receive(2, wait=0.5, visibility=30):  # raised before, once per run
                got.append(message.body)
                pair.queue.ack(message)
    finally:
        if hang == "sigstop":
            local_clouds.resume("aws")
    assert sorted(got) == [b"from azure %d" % n for n in range(6)], f"received {got}"

"""FailoverQueue through real outages of SQS, on the local clouds.

SQS is moto behind a `FaultProxy`, reached through a host alias that `DnsFaults` can break; the
secondary is Azure Queue (Azurite) or Pub/Sub (Google's emulator). One thread plays producer and
consumer: it sends 200 messages, receiving and acking every few sends, while SQS breaks after the
50th and heals after the 150th. The probers are driven by the test (`Engine.probe_now` after each
send), so every call that reaches SQS is one the workload or a probe made, and the counts are exact.

Each outage must cost no send and lose no message (each is received exactly once, with the dedup
window), reach SQS only as often as the health policy allows, and end with sends back on SQS and
the secondary drained.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from failover.adapters.aws import SqsQueue
from failover.adapters.azure import AzureQueue
from failover.adapters.gcp import PubSubQueue
from failover.engine import EngineSettings
from failover.health import HealthPolicy, HealthState
from failover.interfaces import MessageQueue
from failover.queue import FailoverQueue
from failover.testing.emulators import LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy, ProxyStats
from failover.testing.faulty_queue import FaultyQueue

pytestmark = pytest.mark.emulator

SQS_HOST = "sqs.failover.test"
SENDS, BREAK_AT, HEAL_AT, AFTER_RECOVERY = 200, 50, 150, 10
CONSUME_EVERY = 5
VISIBILITY = 2.0  # seconds: a receive whose answer a hang swallowed hides its messages only this long
THRESHOLD = HealthPolicy().consecutive_failures
SETTINGS = EngineSettings(start_probers=False, attempt_timeout=1.0, probe_timeout=1.0, deadline=5.0)
FAST = {"connect_timeout": 0.5, "read_timeout": 1.0}


def _sqs_error(status: int, code: str, message: str) -> Fault:
    """An answer as SQS's JSON protocol gives it (botocore reads the code from x-amzn-query-error)."""
    body = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message})
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": f"{code};Sender"}
    return Fault.http_status(status, body=body, headers=headers)


@dataclass(frozen=True)
class Outage:
    """How SQS breaks; ``counted`` says how the calls that reach SQS show in the proxy's stats."""

    fault: Fault | None  # None: the host name stops resolving instead
    counted: Callable[[ProxyStats], int]
    secondary: Literal["azure", "pubsub"] = "azure"
    duplicates: bool = False  # SQS keeps what it was sent, so the re-sent copies must be dropped


def _requests(stats: ProxyStats) -> int:
    return stats.requests_seen


def _swallowed_connections(stats: ProxyStats) -> int:
    # A black hole swallows each connection whole; its request may never be parsed.
    return stats.faults_by_kind.get("blackhole", 0)


OUTAGES = {
    "refused": Outage(Fault.refuse(), _requests, secondary="pubsub"),
    "dns": Outage(None, _requests),
    "blackhole": Outage(Fault.blackhole(), _swallowed_connections),
    "hang": Outage(Fault.stall(), _requests),
    # SQS acts on each request, and the answer is lost: sends are ambiguous, and sent again elsewhere.
    "reset-after-acting": Outage(Fault.reset_after(0), _requests, duplicates=True),
    "503-storm": Outage(_sqs_error(503, "ServiceUnavailable", "Service Unavailable"), _requests),
    "429-throttling": Outage(_sqs_error(429, "RequestThrottled", "Request is throttled."), _requests),
    "403-credentials": Outage(
        _sqs_error(403, "InvalidClientTokenId", "The security token included in the request is invalid."), _requests
    ),
}


@dataclass
class Rig:
    """The FailoverQueue, its two adapters (counted by FaultyQueue wrappers) and the faults."""

    queue: FailoverQueue
    sqs: FaultyQueue
    secondary: FaultyQueue
    proxy: FaultProxy
    dns: DnsFaults
    sent: list[str] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    opened_at: ProxyStats | None = None  # the proxy's counts when SQS's circuit first opened
    probes_when_opened: int = 0

    def send(self, n: int) -> None:
        failover_id = f"m-{n:04d}"
        self.queue.send(b"message %d" % n, dedup_id=failover_id)
        self.sent.append(failover_id)

    def consume(self, wait: float = 0.0) -> int:
        messages = self.queue.receive(10, wait=wait, visibility=VISIBILITY)
        for message in messages:
            assert message.dedup_id is not None
            self.received[message.dedup_id] += 1
            self.queue.ack(message)
        return len(messages)

    @property
    def sqs_state(self) -> HealthState:
        return self.queue.engine.health[self.sqs.name].state

    def probes(self) -> int:
        return self.queue.engine.health[self.sqs.name].counters().probes

    def on_state_change(self, endpoint: str, old: HealthState, new: HealthState, reason: str) -> None:
        if endpoint == self.sqs.name and new is HealthState.DOWN and self.opened_at is None:
            self.opened_at = self.proxy.stats
            self.probes_when_opened = self.probes()


def _secondary(local_clouds: LocalClouds, kind: str, name: str) -> MessageQueue:
    if kind == "pubsub":
        return PubSubQueue(local_clouds.pubsub.pubsub_config(name, connect_timeout=0.5, read_timeout=2.0))
    return AzureQueue(local_clouds.azure.azure_queue_config(name, connect_timeout=0.5, read_timeout=2.0))


@pytest.fixture(params=list(OUTAGES))
def outage(request: pytest.FixtureRequest) -> Outage:
    return OUTAGES[request.param]


@pytest.fixture
def rig(outage: Outage, local_clouds: LocalClouds, unique_name: str, tmp_path: Path) -> Iterator[Rig]:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy, DnsFaults() as dns:
        dns.alias(SQS_HOST, "127.0.0.1")
        config = local_clouds.aws.sqs_config(unique_name, endpoint_url=f"http://{SQS_HOST}:{proxy.port}", **FAST)
        sqs = FaultyQueue(SqsQueue(config))
        secondary = FaultyQueue(_secondary(local_clouds, outage.secondary, unique_name))
        queue = FailoverQueue([sqs, secondary], settings=SETTINGS, dedup=tmp_path / "dedup.sqlite")
        rig = Rig(queue, sqs, secondary, proxy, dns)
        queue.engine.health.events.on_state_change.append(rig.on_state_change)
        try:
            yield rig
        finally:
            queue.close()


def _break(rig: Rig, outage: Outage) -> None:
    if outage.fault is not None:
        rig.proxy.set(outage.fault)
        return
    rig.dns.fail(SQS_HOST)
    # Open connections do not need the name: cut them, as a server does with idle ones.
    rig.proxy.set(Fault.refuse())
    rig.proxy.clear()


def _heal(rig: Rig) -> None:
    rig.dns.heal(SQS_HOST)
    rig.proxy.clear()


def _until_sqs_serves_again(rig: Rig) -> None:
    """Probe (on the prober's backoff) until SQS takes traffic again: the next probe is due within
    the backoff's cap, and takes at most the probe timeout (a loaded machine stretches the outage, and
    with it the backoff, so a count of rounds is not a bound)."""
    within = SETTINGS.probe_backoff.cap + SETTINGS.probe_timeout + 5.0
    limit = time.monotonic() + within
    while time.monotonic() < limit:
        rig.queue.engine.probe_now()
        if rig.sqs_state is not HealthState.DOWN:
            return
        time.sleep(0.05)
    raise AssertionError(f"SQS still DOWN {within:g} s after the heal: {rig.queue.engine.health[rig.sqs.name]!r}")


def _drain_everything(rig: Rig) -> None:
    """Receive until every sent message came, or 20 receives in a row found nothing."""
    empty = 0
    while set(rig.sent) - set(rig.received) and empty < 20:
        empty = 0 if rig.consume(wait=0.5) else empty + 1


def test_an_sqs_outage_costs_no_send_loses_no_message_and_spares_sqs(rig: Rig, outage: Outage) -> None:
    at_break = at_heal = rig.proxy.stats
    probes_at_break = probes_at_heal = 0
    for n in range(SENDS):
        if n == BREAK_AT:
            _break(rig, outage)
            at_break, probes_at_break = rig.proxy.stats, rig.probes()
        if n == HEAL_AT:
            at_heal, probes_at_heal = rig.proxy.stats, rig.probes()
            _heal(rig)
        rig.send(n)  # raises, and fails the test, if a send is lost
        rig.queue.engine.probe_now()
        if n % CONSUME_EVERY == CONSUME_EVERY - 1:
            rig.consume()

    assert rig.opened_at is not None, "SQS's circuit never opened during the outage"
    reached = outage.counted(at_heal) - outage.counted(at_break)
    probes = probes_at_heal - probes_at_break
    assert reached <= THRESHOLD + probes, f"{reached} calls reached SQS during the outage, with {probes} probes"
    reached_while_open = outage.counted(at_heal) - outage.counted(rig.opened_at)
    probes_while_open = probes_at_heal - rig.probes_when_opened
    assert reached_while_open <= probes_while_open, (
        f"{reached_while_open} calls reached SQS after its circuit opened, with only {probes_while_open} probes"
    )

    _until_sqs_serves_again(rig)
    secondary_sends = rig.secondary.calls.get("send", 0)
    forwarded = rig.proxy.stats.requests_forwarded
    for n in range(SENDS, SENDS + AFTER_RECOVERY):
        rig.send(n)
    assert rig.secondary.calls.get("send", 0) == secondary_sends, "sends did not come back to SQS"
    assert rig.proxy.stats.requests_forwarded - forwarded >= AFTER_RECOVERY

    _drain_everything(rig)
    missing = sorted(set(rig.sent) - set(rig.received))
    assert not missing, f"{len(missing)} of {len(rig.sent)} messages never received, e.g. {missing[:5]}"
    repeated = {failover_id: count for failover_id, count in rig.received.items() if count > 1}
    assert not repeated, f"received more than once despite the dedup window: {repeated}"
    if outage.duplicates:
        assert rig.queue.counters().duplicates_dropped > 0, "no ambiguous send left a copy: the test lost its point"
    rig.consume()  # a last receive finds the secondary empty
    assert rig.secondary.name not in rig.queue.draining
    assert rig.secondary.inner.receive(10) == [], "messages were left on the secondary"


BROWNOUT_DELAY = 0.4  # seconds added to every SQS answer: slow, well inside the attempt timeout


def test_an_sqs_brownout_demotes_it_and_sends_move_to_the_secondary(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    SqsQueue(local_clouds.aws.sqs_config(unique_name)).close()  # made without the short timeouts
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy:
        config = local_clouds.aws.sqs_config(
            unique_name, endpoint_url=f"http://127.0.0.1:{proxy.port}", ensure=False, **FAST
        )
        sqs = FaultyQueue(SqsQueue(config))
        secondary = FaultyQueue(_secondary(local_clouds, "azure", unique_name))
        queue = FailoverQueue([sqs, secondary], settings=SETTINGS, dedup=tmp_path / "dedup.sqlite")
        rig = Rig(queue, sqs, secondary, proxy, DnsFaults())
        try:
            for n in range(BREAK_AT):  # enough fast sends for SQS's latency estimate
                rig.send(n)
            proxy.set(Fault.delay(BROWNOUT_DELAY))
            n = BREAK_AT
            while rig.sqs_state is not HealthState.DEGRADED and n < BREAK_AT + 40:
                rig.send(n)
                n += 1
                time.sleep(0.02)  # the peer's measurement runs in the background
            assert rig.sqs_state is HealthState.DEGRADED, (
                f"SQS never marked DEGRADED after {n - BREAK_AT} slow sends: {queue.engine.health[sqs.name]!r}"
            )
            slow_sends = n - BREAK_AT
            on_secondary = secondary.calls.get("send", 0)
            for after in range(n, n + 20):
                rig.send(after)
            assert secondary.calls.get("send", 0) - on_secondary == 20, "sends did not move off the slow SQS"
            proxy.clear()
            _drain_everything(rig)
        finally:
            queue.close()
    missing = sorted(set(rig.sent) - set(rig.received))
    assert not missing, f"{len(missing)} messages never received, e.g. {missing[:5]}"
    # Measured here: 14 slow sends (the peer's 20 measurements run beside them, on a loaded machine).
    assert slow_sends <= 25, f"{slow_sends} slow sends before SQS was demoted"

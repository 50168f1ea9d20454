"""FailoverStorage through real AWS outages on the local clouds: one test per fault a client meets.

In each, AWS breaks after 50 operations and heals after 150: no call fails, every read returns what
was written, AWS sees at most the breaker's threshold of calls once broken (plus the prober's),
traffic returns to it once it is healthy, and every object written meanwhile reaches S3 with its
version and sha256. The counts come from the FaultProxy (or the DNS fault) and the health tracker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from failover.health import DegradedPolicy, HealthState
from failover.testing.emulators import LocalClouds
from failover.testing.faults import DnsFaults, Fault, FaultProxy, ProxyStats
from tests.failover.storage_support import (
    SETTINGS,
    TIMEOUTS,
    Clouds,
    Workload,
    assert_bounded,
    assert_on_s3,
    run_outage,
    wait_for,
)

pytestmark = pytest.mark.emulator

SERVICE_UNAVAILABLE = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>ServiceUnavailable</Code>"
    "<Message>Service is unable to handle request.</Message></Error>"
)
SLOW_DOWN = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    "<Message>Please reduce your request rate.</Message></Error>"
)
XML = {"Content-Type": "application/xml"}
# moto reads a bucket name from the Host of any dotted name unless it starts with "localhost".
HOST = "localhost.aws.failover.test"


@pytest.fixture
def proxy(local_clouds: LocalClouds) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as started:
        yield started


def through(
    proxy: FaultProxy, local_clouds: LocalClouds, bucket: str, tmp_path: Path, *, azure: bool = False
) -> Clouds:
    config = local_clouds.aws.s3_config(bucket, endpoint_url=proxy.endpoint, **TIMEOUTS)
    return Clouds(local_clouds, bucket, tmp_path, config, proxy=proxy, azure=azure)


def test_refused_connections_move_traffic_to_gcs_and_back(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    clouds = through(proxy, local_clouds, unique_name, tmp_path, azure=True)
    try:
        report = run_outage(
            clouds,
            breaks=lambda: proxy.set(Fault.refuse()),
            heals=proxy.clear,
            wire_attempts=lambda: proxy.stats.connections_accepted,
        )
        print(report)
        assert report.aws_calls_during == 1, f"{report}: a refused connect opens the circuit at once"
        assert_bounded(report)
    finally:
        clouds.close()


def _unresolve(dns: DnsFaults, proxy: FaultProxy) -> None:
    """The name stops resolving; connections the SDK pooled before do not need it, so they are cut
    too (as a server closes idle ones), else calls could go on over them and never meet the outage."""
    dns.fail(HOST)
    proxy.set(Fault.refuse())
    proxy.clear()


def test_dns_failure_moves_traffic_to_gcs_and_back(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    with DnsFaults() as dns:
        dns.alias(HOST, "127.0.0.1")
        # Virtual-hosted addressing would put the bucket in the host name; only path style resolves.
        dns.fail(f"{unique_name}.{HOST}")
        config = local_clouds.aws.s3_config(unique_name, endpoint_url=f"http://{HOST}:{proxy.port}", **TIMEOUTS)
        clouds = Clouds(local_clouds, unique_name, tmp_path, config, proxy=proxy)
        try:
            report = run_outage(
                clouds,
                breaks=lambda: _unresolve(dns, proxy),
                heals=lambda: dns.heal(HOST),
                wire_attempts=lambda: dns.refused.get(HOST, 0) + proxy.stats.connections_accepted,
            )
        finally:
            clouds.close()
        assert dns.refused.get(f"{unique_name}.{HOST}", 0) == 0, "the S3 adapter used virtual-hosted addressing"
    print(report)
    assert report.aws_calls_during == 1, f"{report}: a DNS failure opens the circuit at once"
    assert_bounded(report)


def test_hung_provider_moves_traffic_to_gcs_and_back(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    clouds = through(proxy, local_clouds, unique_name, tmp_path)
    try:
        report = run_outage(
            clouds,
            breaks=lambda: local_clouds.pause("aws"),  # SIGSTOP: connects succeed, nothing answers
            heals=lambda: local_clouds.resume("aws"),
            wire_attempts=lambda: proxy.stats.requests_seen,
        )
        print(report)
        assert_bounded(report)
    finally:
        clouds.close()


# Faults the proxy makes: (the fault, what counts as a call reaching AWS, whether Azure joins as a third store).
PROXY_FAULTS: dict[str, tuple[Fault, Callable[[ProxyStats], int], bool]] = {
    # A black hole swallows each connection whole; its request may never be parsed.
    "blackhole": (Fault.blackhole(), lambda stats: stats.connections_accepted, False),
    "503-storm": (
        Fault.http_status(503, body=SERVICE_UNAVAILABLE, headers=XML),
        lambda stats: stats.requests_seen,
        True,
    ),
    "429-throttling": (
        Fault.http_status(429, retry_after=1, body=SLOW_DOWN, headers=XML),
        lambda stats: stats.requests_seen,
        False,
    ),
    # Every answer is cut by an RST after 200 bytes: inside the headers of each one.
    "reset-mid-response": (Fault.reset_after(200), lambda stats: stats.requests_seen, False),
}


@pytest.mark.parametrize("kind", list(PROXY_FAULTS))
def test_proxy_fault_moves_traffic_to_gcs_and_back(
    kind: str, local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    fault, counted, azure = PROXY_FAULTS[kind]
    clouds = through(proxy, local_clouds, unique_name, tmp_path, azure=azure)
    try:
        report = run_outage(
            clouds,
            breaks=lambda: proxy.set(fault),
            heals=proxy.clear,
            wire_attempts=lambda: counted(proxy.stats),
        )
        print(report)
        assert_bounded(report)
    finally:
        clouds.close()


def test_slow_brownout_demotes_aws_and_traffic_returns_when_it_is_fast_again(
    local_clouds: LocalClouds, proxy: FaultProxy, unique_name: str, tmp_path: Path
) -> None:
    # Compared after 5 samples; re-measured after 5 s if nothing shows it recovered sooner.
    settings = replace(SETTINGS, degraded=DegradedPolicy(min_samples=5, floor=0.05, hold=5.0))
    config = local_clouds.aws.s3_config(unique_name, endpoint_url=proxy.endpoint, **TIMEOUTS)
    clouds = Clouds(local_clouds, unique_name, tmp_path, config, proxy=proxy, settings=settings)
    states: list[HealthState] = []
    clouds.storage.on_state_change(
        lambda name, old, new, reason: states.append(new) if name == clouds.aws_name else None
    )
    try:
        workload = Workload(clouds.storage)
        workload.run(50, "before")
        clouds.storage.drain(timeout=20)
        proxy.set(Fault.delay(0.2))  # every request to AWS waits 200 ms: slow, never failing
        workload.run(50, "during")
        wait_for(lambda: clouds.aws_state() is HealthState.DEGRADED, "AWS being demoted")
        aws_calls = sum(clouds.s3.foreground.values())
        workload.run(50, "during")
        assert sum(clouds.s3.foreground.values()) == aws_calls, "calls still went to the slow AWS once demoted"
        assert clouds.gcs.foreground["put"] >= 25, "writes did not move to GCS"

        proxy.clear()
        wait_for(lambda: clouds.aws_state() is HealthState.HEALTHY, "AWS being promoted back")
        puts_on_gcs = clouds.gcs.foreground["put"]
        workload.run(50, "after")
        assert clouds.gcs.foreground["put"] == puts_on_gcs, "writes did not return to AWS"
        clouds.storage.drain(timeout=20)
        assert clouds.storage.journal.backlog() == {}
        assert_on_s3(clouds, workload, "during")
        assert HealthState.DOWN not in states, f"a brownout opened the circuit: {states}"
    finally:
        clouds.close()


# Rejected credentials, and refusals of one request by policy (which are not an outage): see
# test_storage_refusals.py.

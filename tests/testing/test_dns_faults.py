"""DnsFaults breaks, heals and aliases host names in this process, and restores the real resolver."""

from __future__ import annotations

import socket

import pytest

from failover.testing.faults import DnsFaults, unresolvable

NAME = "s3.local.test"


def addresses(host: str, port: int = 443) -> set[tuple[object, object]]:
    return {(info[4][0], info[4][1]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}


def test_a_failed_name_raises_the_resolvers_own_error() -> None:
    with DnsFaults() as dns:
        dns.fail(NAME)
        with pytest.raises(socket.gaierror) as raised:
            socket.getaddrinfo(NAME, 443)
    assert raised.value.errno == socket.EAI_NONAME
    assert raised.value.strerror == "Name or service not known"


def test_a_client_connecting_by_name_sees_the_failure() -> None:
    with DnsFaults() as dns:
        dns.alias(NAME)
        dns.fail(NAME)
        with pytest.raises(socket.gaierror):
            socket.create_connection((NAME, 443), timeout=1)
        with pytest.raises(socket.gaierror):
            socket.gethostbyname(NAME)


def test_an_alias_resolves_to_loopback() -> None:
    with DnsFaults() as dns:
        dns.alias("aws.failover.test", "127.0.0.1")
        assert addresses("aws.failover.test") == {("127.0.0.1", 443)}
        assert addresses("AWS.Failover.Test.", 80) == {("127.0.0.1", 80)}
        assert socket.gethostbyname("aws.failover.test") == "127.0.0.1"


def test_a_name_covers_its_subdomains() -> None:
    with DnsFaults() as dns:
        dns.alias("aws.failover.test")
        assert addresses("bucket.aws.failover.test") == {("127.0.0.1", 443)}
        dns.fail("aws.failover.test")
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("bucket.aws.failover.test", 443)


def test_a_healed_name_resolves_again() -> None:
    with DnsFaults() as dns:
        dns.alias(NAME)
        dns.fail(NAME)
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo(NAME, 443)
        dns.heal(NAME)
        assert addresses(NAME) == {("127.0.0.1", 443)}
        assert dns.failing == frozenset()


def test_refused_lookups_are_counted_per_name() -> None:
    with unresolvable("a.failover.invalid", "b.failover.invalid") as dns:
        for host in ("a.failover.invalid", "a.failover.invalid", "x.b.failover.invalid"):
            with pytest.raises(socket.gaierror):
                socket.getaddrinfo(host, 80)
        assert dict(dns.refused) == {"a.failover.invalid": 2, "b.failover.invalid": 1}


def test_names_not_chosen_resolve_for_real() -> None:
    with unresolvable(NAME):
        assert addresses("127.0.0.1") == {("127.0.0.1", 443)}


def test_uninstall_restores_the_real_resolver_functions() -> None:
    real = socket.getaddrinfo, socket.gethostbyname
    with unresolvable(NAME):
        assert socket.getaddrinfo is not real[0]
    assert (socket.getaddrinfo, socket.gethostbyname) == real


def test_the_patch_stays_until_the_last_instance_uninstalls() -> None:
    real = socket.getaddrinfo
    first, second = DnsFaults().install(), DnsFaults().install()
    try:
        first.fail(NAME)
        second.alias(NAME)
        first.uninstall()
        assert socket.getaddrinfo is not real
        assert addresses(NAME) == {("127.0.0.1", 443)}
    finally:
        first.uninstall()
        second.uninstall()
    assert socket.getaddrinfo is real

"""Real faults for tests, demos and benchmarks: a fault-injecting TCP proxy and broken host names.

Test your application's failover against the failures a cloud client really meets, on the wire:

``FaultProxy(host, port)``
    A TCP proxy in front of an emulator (or any TCP server). Point the SDK at ``proxy.endpoint`` and
    switch the fault at run time with ``proxy.set(...)`` / ``proxy.clear()``:

    ========================================  ==================================================
    ``Fault.refuse()``                        the listener closes: ECONNREFUSED; open
                                              connections are cut; ``clear`` reopens the port
    ``Fault.blackhole()``                     accepted, read and discarded, never answered
    ``Fault.stall()``                         held both ways, delivered when cleared (a hang)
    ``Fault.delay(seconds)``                  each request held before it is forwarded
    ``Fault.reset_after(nbytes)``             each response cut by an RST after ``nbytes``
    ``Fault.bandwidth(bytes_per_second)``     each response paced
    ``Fault.http_status(503, fraction=0.5)``  the proxy answers a seeded share of requests itself
    ========================================  ==================================================

    ``proxy.stats`` counts connections, requests seen and forwarded, bytes, and each fault applied,
    so a test can assert how many calls reached a failed provider.

``DnsFaults`` / ``unresolvable(host)``
    Host names that stop resolving (``socket.gaierror`` EAI_NONAME), as in the October 2025 outage,
    and fake names that resolve to the emulator until they are broken. In-process only, and not for
    gRPC (its resolver is in C): see `DnsFaults`.

Example: a provider that answers 503, then recovers::

    from failover.testing.faults import Fault, FaultProxy

    with FaultProxy("127.0.0.1", moto_port) as proxy:
        s3 = boto3.client("s3", endpoint_url=proxy.endpoint, ...)
        proxy.set(Fault.http_status(503, body=SLOW_DOWN_XML, headers={"Content-Type": "application/xml"}))
        ...                                   # your code fails over
        assert proxy.stats.requests_forwarded == 0
        proxy.clear()                         # and comes back
"""

from failover.testing.faults._control import ProxyStats
from failover.testing.faults._dns import DnsFaults, unresolvable
from failover.testing.faults._fault import (
    Bandwidth,
    Blackhole,
    Delay,
    Fault,
    HttpStatus,
    Pass,
    Refuse,
    ResetAfter,
    Stall,
)
from failover.testing.faults._proxy import FaultProxy

__all__ = [
    "Bandwidth",
    "Blackhole",
    "Delay",
    "DnsFaults",
    "Fault",
    "FaultProxy",
    "HttpStatus",
    "Pass",
    "ProxyStats",
    "Refuse",
    "ResetAfter",
    "Stall",
    "unresolvable",
]

"""Host names that stop resolving, switchable at run time: the October 2025 outage, in-process.

`DnsFaults` patches ``socket.getaddrinfo`` (and ``socket.gethostbyname``) once for the whole process,
whatever the number of instances, and restores the real functions when the last instance uninstalls.
Every HTTP client the adapters use (urllib3 under boto3, requests under google-cloud-storage and
azure-core) resolves through ``socket.getaddrinfo`` at connect time, so they all see the fault.

It does not reach the Pub/Sub client: gRPC resolves names in its C core, which never calls Python's
``socket`` module. For gRPC, point the client at a name under ``.invalid`` from the start (RFC 6761:
the real resolver refuses it), or put a `FaultProxy` in front of the emulator and use
``Fault.refuse()`` or ``Fault.blackhole()``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from socket import _GetAddrInfoResult

__all__ = ["DnsFaults", "unresolvable"]

_lock = threading.RLock()
_active: list[DnsFaults] = []
_real: tuple[Callable[..., _GetAddrInfoResult], Callable[[str], str]] | None = None


def _normalize(host: str | bytes) -> str:
    text = host.decode("ascii", errors="replace") if isinstance(host, bytes) else host
    return text.rstrip(".").lower()


def _covers(name: str, host: str) -> bool:
    return host == name or host.endswith("." + name)


def _no_such_name() -> socket.gaierror:
    return socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _lookup(host: str | bytes | None) -> str | None:
    """The address an alias gives ``host``, or None to resolve it for real; raises for a failed name."""
    if host is None:
        return None
    name = _normalize(host)
    with _lock:
        instances = list(_active)
    for faults in instances:
        if faults._fails(name):
            raise _no_such_name()
    for faults in instances:
        address = faults._address(name)
        if address is not None:
            return address
    return None


def _getaddrinfo(
    host: bytes | str | None,
    port: bytes | str | int | None,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> _GetAddrInfoResult:
    assert _real is not None
    address = _lookup(host)
    return _real[0](host if address is None else address, port, family, type, proto, flags)


def _gethostbyname(hostname: str, /) -> str:
    assert _real is not None
    address = _lookup(hostname)
    return _real[1](hostname) if address is None else address


class DnsFaults:
    """Host names that fail to resolve or resolve to a chosen address, in this process; a context manager.

    ::

        with DnsFaults() as dns:
            dns.alias("aws.failover.test", "127.0.0.1")   # resolves while healthy
            ...                                            # endpoint http://aws.failover.test:PORT
            dns.fail("aws.failover.test")                  # now: socket.gaierror EAI_NONAME
            dns.heal("aws.failover.test")                  # resolves again

    A name covers its subdomains (``fail("aws.failover.test")`` also breaks
    ``bucket.aws.failover.test``, for virtual-hosted S3); a failure wins over an alias. Use names that
    never resolve for real (under ``.test`` or ``.invalid``), so a test that forgets the alias fails
    loudly instead of reaching the internet. Thread-safe; switch at any time.
    """

    def __init__(self) -> None:
        self._failing: set[str] = set()
        self._aliases: dict[str, str] = {}
        self._refused: Counter[str] = Counter()
        self._installed = False

    def install(self) -> Self:
        """Start answering lookups (patching ``socket`` if no other instance did)."""
        global _real
        with _lock:
            if self._installed:
                return self
            if not _active and socket.getaddrinfo is not _getaddrinfo:
                _real = (socket.getaddrinfo, socket.gethostbyname)
                socket.getaddrinfo = _getaddrinfo
                socket.gethostbyname = _gethostbyname
            _active.append(self)
            self._installed = True
        return self

    def uninstall(self) -> None:
        """Stop answering; the last instance to leave restores the real resolver functions. Idempotent."""
        with _lock:
            if not self._installed:
                return
            _active.remove(self)
            self._installed = False
            # Restore only our own patch: a patch put on top of ours since stays, and keeps working
            # (ours passes every name through to the real resolver once no instance is active).
            if not _active and _real is not None and socket.getaddrinfo is _getaddrinfo:
                socket.getaddrinfo, socket.gethostbyname = _real

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.uninstall()

    def fail(self, *hosts: str) -> None:
        """Make ``hosts`` (and their subdomains) stop resolving."""
        with _lock:
            self._failing.update(_normalize(host) for host in hosts)

    def heal(self, *hosts: str) -> None:
        """Let ``hosts`` resolve again (through their alias, if any)."""
        with _lock:
            self._failing.difference_update(_normalize(host) for host in hosts)

    def alias(self, host: str, address: str = "127.0.0.1") -> None:
        """Resolve ``host`` (and its subdomains) to ``address``, an IP literal."""
        with _lock:
            self._aliases[_normalize(host)] = address

    def unalias(self, host: str) -> None:
        with _lock:
            self._aliases.pop(_normalize(host), None)

    @property
    def failing(self) -> frozenset[str]:
        with _lock:
            return frozenset(self._failing)

    @property
    def refused(self) -> Mapping[str, int]:
        """How many lookups each failed name refused: the calls that tried the broken provider."""
        with _lock:
            return MappingProxyType(dict(self._refused))

    def _fails(self, host: str) -> bool:
        with _lock:
            name = next((name for name in self._failing if _covers(name, host)), None)
            if name is not None:
                self._refused[name] += 1
            return name is not None

    def _address(self, host: str) -> str | None:
        with _lock:
            matches = [name for name in self._aliases if _covers(name, host)]
            return self._aliases[max(matches, key=len)] if matches else None


@contextlib.contextmanager
def unresolvable(*hosts: str) -> Iterator[DnsFaults]:
    """Within the block, ``hosts`` do not resolve (``socket.gaierror`` EAI_NONAME); yields the `DnsFaults`."""
    with DnsFaults() as dns:
        dns.fail(*hosts)
        yield dns

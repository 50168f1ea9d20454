"""The faults a `FaultProxy` injects: one small frozen dataclass each, made with `Fault`'s constructors."""

from __future__ import annotations

import http
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "Bandwidth",
    "Blackhole",
    "Delay",
    "Fault",
    "HttpStatus",
    "Pass",
    "Refuse",
    "ResetAfter",
    "Stall",
]


@dataclass(frozen=True)
class Fault:
    """What the proxy does to traffic; build one with the constructors (``Fault.delay(0.2)``).

    ``kind`` names the fault in `ProxyStats.faults_by_kind`.
    """

    kind: ClassVar[str] = "fault"

    @staticmethod
    def passthrough() -> Pass:
        """Forward both ways, unchanged (what `FaultProxy.clear` sets)."""
        return Pass()

    @staticmethod
    def refuse() -> Refuse:
        """Close the listener: connects are refused (ECONNREFUSED) and open connections are cut."""
        return Refuse()

    @staticmethod
    def blackhole() -> Blackhole:
        """Accept, read and discard, never answer; a connection that lost bytes stays a black hole."""
        return Blackhole()

    @staticmethod
    def stall() -> Stall:
        """Hold every byte both ways, and deliver what was held when the fault is cleared (a hang)."""
        return Stall()

    @staticmethod
    def delay(seconds: float, *, fraction: float = 1.0, seed: int = 0) -> Delay:
        """Hold each HTTP request (or each chunk a non-HTTP client sends) ``seconds`` before forwarding it.

        With ``fraction`` below 1, only a seeded share of them (a brownout: slow a third of the time),
        drawn as `http_status` draws.
        """
        return Delay(seconds, fraction, seed)

    @staticmethod
    def reset_after(nbytes: int) -> ResetAfter:
        """Forward ``nbytes`` of each response, then reset the connection (RST)."""
        return ResetAfter(nbytes)

    @staticmethod
    def bandwidth(bytes_per_second: float) -> Bandwidth:
        """Pace each connection's response stream to ``bytes_per_second``."""
        return Bandwidth(bytes_per_second)

    @staticmethod
    def http_status(
        status: int,
        *,
        fraction: float = 1.0,
        retry_after: int | None = None,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        seed: int = 0,
        times: int | None = None,
    ) -> HttpStatus:
        """Answer a ``fraction`` of HTTP requests with ``status`` without reaching the upstream.

        Each request draws ``random.Random(seed).random() < fraction``; the generator restarts at every
        `FaultProxy.set`, so a test sees the same mix each run. ``times`` caps the answers (then requests
        pass). ``body`` and ``headers`` make the answer look like the provider's; the proxy adds
        ``Content-Length`` and ``Connection: close`` (and ``Retry-After`` when given), and closes the
        connection after the answer.
        """
        encoded = body.encode() if isinstance(body, str) else bytes(body)
        return HttpStatus(status, fraction, retry_after, encoded, tuple((headers or {}).items()), seed, times)


@dataclass(frozen=True)
class Pass(Fault):
    """Forward both ways, unchanged."""

    kind: ClassVar[str] = "pass"


@dataclass(frozen=True)
class Refuse(Fault):
    """The listener is closed: connects are refused; open connections are cut."""

    kind: ClassVar[str] = "refuse"


@dataclass(frozen=True)
class Blackhole(Fault):
    """Accept, read and discard, never answer."""

    kind: ClassVar[str] = "blackhole"


@dataclass(frozen=True)
class Stall(Fault):
    """Hold every byte both ways until the fault changes."""

    kind: ClassVar[str] = "stall"


@dataclass(frozen=True)
class Delay(Fault):
    """Hold each HTTP request (each raw chunk from a non-HTTP client) ``seconds`` before forwarding it."""

    seconds: float
    fraction: float = 1.0
    seed: int = 0
    kind: ClassVar[str] = "delay"

    def __post_init__(self) -> None:
        if not self.seconds >= 0:
            raise ValueError(f"delay seconds must be >= 0, got {self.seconds!r}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"delay needs a fraction in [0, 1], got {self.fraction!r}")


@dataclass(frozen=True)
class ResetAfter(Fault):
    """Forward ``nbytes`` of each response, then reset the connection."""

    nbytes: int
    kind: ClassVar[str] = "reset"

    def __post_init__(self) -> None:
        if self.nbytes < 0:
            raise ValueError(f"reset_after needs nbytes >= 0, got {self.nbytes!r}")


@dataclass(frozen=True)
class Bandwidth(Fault):
    """Pace each connection's response stream to ``bytes_per_second``."""

    bytes_per_second: float
    kind: ClassVar[str] = "bandwidth"

    def __post_init__(self) -> None:
        if not self.bytes_per_second > 0:
            raise ValueError(f"bandwidth needs bytes_per_second > 0, got {self.bytes_per_second!r}")


@dataclass(frozen=True)
class HttpStatus(Fault):
    """Answer a seeded ``fraction`` of HTTP requests with ``status``, without reaching the upstream."""

    status: int
    fraction: float = 1.0
    retry_after: int | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seed: int = 0
    times: int | None = None
    kind: ClassVar[str] = "http_status"

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"http_status needs a status in 100..599, got {self.status!r}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"http_status needs a fraction in [0, 1], got {self.fraction!r}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"http_status needs retry_after >= 0 (seconds), got {self.retry_after!r}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"http_status needs times >= 0 or None, got {self.times!r}")
        for name, value in self.headers:
            if any(char in name + value for char in "\r\n") or not name:
                raise ValueError(f"http_status header {name!r}: {value!r} is not a valid header line")

    def response(self, *, head_only: bool = False) -> bytes:
        """The whole HTTP/1.1 answer; ``head_only`` for a HEAD request (no body, same headers)."""
        try:
            phrase = http.HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        ours = {"content-length", "connection", "retry-after" if self.retry_after is not None else ""}
        lines = [f"HTTP/1.1 {self.status} {phrase}"]
        lines += [f"{name}: {value}" for name, value in self.headers if name.lower() not in ours]
        if self.retry_after is not None:
            lines.append(f"Retry-After: {self.retry_after}")
        lines += [f"Content-Length: {len(self.body)}", "Connection: close", "", ""]
        head = "\r\n".join(lines).encode("latin-1")
        return head if head_only else head + self.body

"""Real network failures for tests: a closed port, a host that does not resolve, a black hole."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

__all__ = ["UNRESOLVABLE_HOST", "blackhole_port", "closed_port"]

# RFC 6761: names under .invalid never resolve; the resolver answers with its own error.
UNRESOLVABLE_HOST = "failover-test.invalid"


def closed_port() -> int:
    """A loopback port nothing listens on (connects are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def blackhole_port() -> Iterator[int]:
    """A loopback port that accepts connections (through the backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]

"""Ports and process groups as the operating system sees them, and the HTTP readiness probe.

Probes go through an opener without proxies: an ``http_proxy`` in a CI environment must not route
requests for 127.0.0.1 elsewhere.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "HOST",
    "ReadyCheck",
    "free_ports",
    "group_alive",
    "group_listens_on",
    "group_stopped",
    "http_open",
    "ports_free",
    "signal_group",
]

HOST = "127.0.0.1"
_PROBE_TIMEOUT = 1.0
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
http_open = _opener.open


class ReadyCheck:
    """A URL that answers once the emulator serves; ``any_status`` accepts any HTTP answer (Azurite)."""

    def __init__(self, url: str, *, any_status: bool = False) -> None:
        self.url = url
        self.any_status = any_status

    def passes(self, timeout: float = _PROBE_TIMEOUT) -> bool:
        try:
            with http_open(self.url, timeout=timeout) as answer:
                return bool(answer.status == 200 or self.any_status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return self.any_status
        except (OSError, ValueError, http.client.HTTPException):
            # Refused, reset, timed out, or a half-started server answering garbage: not ready yet.
            return False


def free_ports(count: int) -> tuple[int, ...]:
    """``count`` distinct loopback ports that were free a moment ago (the kernel picks them)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return tuple(sock.getsockname()[1] for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def ports_free(ports: Sequence[int]) -> bool:
    for port in ports:
        with socket.socket() as sock:
            # SO_REUSEADDR as the servers set it: a port in TIME_WAIT after our own stop is free for them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                return False
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines, None)
            for line in lines:
                fields = line.split()
                # local_address is HEXIP:HEXPORT; state 0A is LISTEN.
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _group_pids(pgid: int) -> list[int]:
    """The live (not zombie) processes of a group, read from ``/proc``."""
    pids = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = Path(f"/proc/{entry}/stat").read_text(encoding="ascii", errors="replace")
                    state, _, group = stat.rsplit(")", 1)[1].split()[:3]
                    if int(group) == pgid and state != "Z":
                        pids.append(int(entry))
    return pids


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs.

    Zombies do not count: they hold no port and run nothing, and where PID 1 reaps orphans only now
    and then (some container inits take over a second), waiting for them would slow every stop.
    """
    if os.path.isdir("/proc/self"):
        return bool(_group_pids(pgid))
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def group_stopped(pgid: int) -> bool:
    """Whether every thread of every live process of the group is stopped (SIGSTOP has taken hold).

    ``killpg`` returns once the signal is sent; each thread stops when it next runs, which on a
    loaded machine can come after a request was accepted and answered. Only Linux can tell
    (``/proc``); elsewhere this answers True.
    """
    if not os.path.isdir("/proc/self"):
        return True
    for pid in _group_pids(pgid):
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, IndexError):
                    stat = Path(f"/proc/{pid}/task/{task}/stat").read_text(encoding="ascii", errors="replace")
                    if stat.rsplit(")", 1)[1].split()[0] not in ("T", "t", "Z", "X"):
                        return False
    return True


def group_listens_on(pgid: int, port: int) -> bool:
    """Whether a process of the group holds the listening socket (not a stranger that took the port).

    Only Linux can tell (``/proc``); elsewhere this answers True.
    """
    if not os.path.isdir("/proc/self/fd"):
        return True
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in _group_pids(pgid):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                        return True
    return False


def signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True

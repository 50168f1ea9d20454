"""`FaultProxy`: a TCP proxy in front of an emulator (or any TCP server) that injects real faults."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import urllib.parse
from types import TracebackType
from typing import Any, Self

from failover.testing.faults._connection import Connection
from failover.testing.faults._control import Control, ProxyStats
from failover.testing.faults._fault import Fault, Pass, Refuse

__all__ = ["FaultProxy"]

_JOIN_SECONDS = 10.0


class FaultProxy:
    """A threaded TCP proxy whose fault can be switched at run time; a context manager.

    ::

        with FaultProxy("127.0.0.1", moto.ports[0]) as proxy:
            s3 = boto3.client("s3", endpoint_url=proxy.endpoint, ...)
            proxy.set(Fault.http_status(503))      # every request answered 503 by the proxy
            proxy.set(Fault.refuse())              # connects refused, open connections cut
            proxy.clear()                          # traffic passes again, on the same port
            assert proxy.stats.requests_forwarded == 0

    One thread accepts; each connection has a thread per direction. `stop` (or leaving the ``with``)
    closes every socket and joins every thread. Switching is safe while connections are open: each
    connection reads the current fault before every chunk it forwards, and `set` returns once the
    listener matches the new fault.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listen_host = listen_host
        self._port = listen_port
        self._connect_timeout = connect_timeout
        self._control = Control()
        self._connections: set[Connection] = set()
        self._listener: socket.socket | None = None
        self._listener_generation = -1  # the generation the accept thread's listener matches
        self._listener_error: OSError | None = None
        self._accept_thread: threading.Thread | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._stopped = False

    @classmethod
    def in_front_of(cls, endpoint: str, **options: Any) -> FaultProxy:
        """A proxy for the server at ``endpoint`` (``http://127.0.0.1:4566``, an emulator's ``.endpoint``)."""
        url = urllib.parse.urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
        if url.hostname is None or url.port is None:
            raise ValueError(f"FaultProxy needs an endpoint with a host and a port, got {endpoint!r}")
        return cls(url.hostname, url.port, **options)

    # Life cycle.

    def start(self) -> Self:
        """Bind the listener and start accepting; the port is known when this returns."""
        if self._accept_thread is not None or self._stopped:
            raise RuntimeError("a FaultProxy starts once")
        self._listener = self._bind()
        self._port = self._listener.getsockname()[1]
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_writer.setblocking(False)
        self._accept_thread = threading.Thread(target=self._accept_loop, name="fault-proxy-accept", daemon=True)
        self._accept_thread.start()
        self._await_listener(self._control.generation)
        return self

    def stop(self) -> None:
        """Close the listener and every connection, and join every thread. Idempotent."""
        with self._control.cond:
            if self._stopped:
                return
            self._stopped = True
            self._control.stopping = True
            self._control.cond.notify_all()
            connections = list(self._connections)
        if self._accept_thread is not None:
            self._wake()
            self._accept_thread.join(_JOIN_SECONDS)
        for connection in connections:
            connection.abort()
        for thread in self._control.threads():
            thread.join(_JOIN_SECONDS)
        for sock in (self._wake_reader, self._wake_writer):
            if sock is not None:
                sock.close()

    def __enter__(self) -> Self:
        return self if self._accept_thread is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # What tests use.

    @property
    def port(self) -> int:
        """The port clients connect to (fixed across `Fault.refuse` and back)."""
        if self._accept_thread is None:
            raise RuntimeError("the FaultProxy has not been started; call start() or use it in a with block")
        return self._port

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` of the proxy, for an SDK's endpoint URL."""
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"http://{host}:{self.port}"

    @property
    def fault(self) -> Fault:
        return self._control.fault

    @property
    def stats(self) -> ProxyStats:
        """A snapshot of the counters."""
        return self._control.stats()

    def reset_stats(self) -> None:
        self._control.reset_stats()

    def set(self, fault: Fault) -> None:
        """Switch to ``fault`` now, for new and open connections alike."""
        generation = self._control.set(fault)
        if self._accept_thread is None or self._stopped:
            return
        self._wake()
        self._await_listener(generation)
        if isinstance(fault, Refuse):  # a dead server's connections die with it
            with self._control.cond:
                connections = list(self._connections)
            for connection in connections:
                connection.abort()
                self._control.count_fault(fault.kind)

    def clear(self) -> None:
        """Pass traffic again, reopening the listener on the same port after a refuse.

        Raises OSError if another process took the port while it was closed.
        """
        self.set(Pass())

    def __repr__(self) -> str:
        where = f"{self.listen_host}:{self._port}" if self._accept_thread is not None else "not started"
        return f"<FaultProxy {where} -> {self.upstream[0]}:{self.upstream[1]} fault={self.fault!r}>"

    # The accept thread owns the listener: it closes and reopens it as the fault asks.

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.listen_host, self._port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        return listener

    def _wake(self) -> None:
        if self._wake_writer is not None:
            # Full (a wake is pending already) or closed at stop: either way nothing more to do.
            with contextlib.suppress(OSError):
                self._wake_writer.send(b"x")

    def _await_listener(self, generation: int) -> None:
        with self._control.cond:
            self._control.cond.wait_for(lambda: self._listener_generation >= generation, _JOIN_SECONDS)
            error, self._listener_error = self._listener_error, None
        if error is not None:
            raise OSError(error.errno, f"FaultProxy could not listen again on port {self._port}: {error}") from error

    def _accept_loop(self) -> None:
        assert self._wake_reader is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_reader, selectors.EVENT_READ)
            try:
                self._serve(selector)
            finally:
                if self._listener is not None:
                    selector.unregister(self._listener)
                    self._listener.close()
                    self._listener = None
                with self._control.cond:
                    self._listener_generation = 1 << 62
                    self._control.cond.notify_all()

    def _serve(self, selector: selectors.BaseSelector) -> None:
        if self._listener is not None:
            selector.register(self._listener, selectors.EVENT_READ)
        while True:
            with self._control.cond:
                stopping, generation = self._control.stopping, self._control.generation
                wanted = not isinstance(self._control.fault, Refuse)
            if stopping:
                return
            error: OSError | None = None
            if wanted and self._listener is None:
                try:
                    self._listener = self._bind()
                    selector.register(self._listener, selectors.EVENT_READ)
                except OSError as exc:
                    error = exc
            elif not wanted and self._listener is not None:
                selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
            with self._control.cond:
                self._listener_generation, self._listener_error = generation, error
                self._control.cond.notify_all()
            for key, _ in selector.select():
                if key.fileobj is self._wake_reader:
                    self._wake_reader.recv(4096)
                elif key.fileobj is self._listener and self._listener is not None:
                    self._accept(self._listener)

    def _accept(self, listener: socket.socket) -> None:
        try:
            client, _ = listener.accept()
        except OSError:  # the client gave up between readiness and accept
            return
        with self._control.cond:
            if self._control.stopping:
                client.close()
                return
            connection = Connection(self._control, client, self.upstream, self._connect_timeout, self._closed)
            self._connections.add(connection)
        self._control.count("connections_accepted")
        connection.start()

    def _closed(self, connection: Connection) -> None:
        with self._control.cond:
            self._connections.discard(connection)

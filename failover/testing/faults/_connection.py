"""One proxied connection: a thread reads the client and one reads the upstream, each applying the fault.

The client side is parsed as HTTP/1.x when it looks like it (see `sniff_request_line`), so that faults
act per request; anything else (gRPC's HTTP/2, TLS) is forwarded as raw chunks. Sockets are closed
only by the last of the two threads to leave, so neither ever touches a closed socket; `abort` wakes
both with ``shutdown`` (and, to reset, closes with ``SO_LINGER`` 0 so the client receives an RST).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

from failover.testing.faults._control import Control
from failover.testing.faults._fault import Bandwidth, Blackhole, Delay, Fault, HttpStatus, ResetAfter, Stall
from failover.testing.faults._http import MAX_HEAD, ChunkedScanner, RequestHead, parse_head, sniff_request_line

__all__ = ["Connection"]

_CHUNK = 64 * 1024
_PACE_SECONDS = 0.05  # bandwidth pacing: one send per this much time's worth of bytes
_LINGER_SECONDS = 2.0  # after a fault answer, how long to drain what the client still sends


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        self.buffer += data
        return bool(data)

    def take(self, size: int | None = None) -> bytes:
        size = len(self.buffer) if size is None else size
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class Connection:
    """A client connection, its upstream connection, and the two threads between them."""

    def __init__(
        self,
        control: Control,
        client: socket.socket,
        upstream_address: tuple[str, int],
        connect_timeout: float,
        on_closed: Callable[[Connection], None],
    ) -> None:
        self._control = control
        self._client = client
        self._upstream: socket.socket | None = None
        self._upstream_address = upstream_address
        self._connect_timeout = connect_timeout
        self._on_closed = on_closed
        self._lock = threading.Lock()  # guards the sockets' life: shutdown and close never race
        self._client_write = threading.Lock()
        self._users = 1
        self._closed = False
        self._aborted = False
        self._sink = False  # bytes were discarded: the stream is broken for good
        self._response_bytes = 0  # sent to the client since the current request began
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start(self) -> None:
        if not self._control.spawn(self._serve_client, "fault-proxy-client"):
            self._leave()

    def cancelled(self) -> bool:
        return self._aborted or self._control.stopping

    def abort(self, *, reset: bool = False) -> None:
        """End the connection now: wake both threads; ``reset`` makes the client see an RST."""
        with self._lock:
            if self._aborted or self._closed:
                return
            self._aborted = True
            try:
                if reset:
                    self._client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self._client.shutdown(socket.SHUT_RD)  # wakes the reader, sends nothing: close sends the RST
                else:
                    self._client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._shutdown_upstream(socket.SHUT_RDWR)
        self._control.notify()

    def _shutdown_upstream(self, how: int) -> None:
        if self._upstream is not None:
            with contextlib.suppress(OSError):
                self._upstream.shutdown(how)

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users:
                return
            self._closed = True
            self._client.close()
            if self._upstream is not None:
                self._upstream.close()
        self._on_closed(self)

    # The client side.

    def _serve_client(self) -> None:
        try:
            fault, _ = self._control.current()
            if isinstance(fault, Blackhole):
                self._swallow(b"")
            elif not self._connect_upstream():
                return
            self._pump_client(_Reader(self._client))
        except OSError:
            self.abort()
        finally:
            self._leave()

    def _connect_upstream(self) -> bool:
        try:
            upstream = socket.create_connection(self._upstream_address, timeout=self._connect_timeout)
        except OSError:
            self._control.count("upstream_failures")
            self.abort(reset=True)
            return False
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._aborted:
                upstream.close()
                return False
            self._upstream = upstream
            self._users += 1
        if not self._control.spawn(self._serve_upstream, "fault-proxy-upstream"):
            self._leave()
            self.abort()
            return False
        return True

    def _pump_client(self, reader: _Reader) -> None:
        while (is_http := sniff_request_line(bytes(reader.buffer))) is None:
            if not reader.fill():
                return self._client_done(reader)
        if is_http:
            return self._pump_http(reader)
        return self._pump_raw(reader)

    def _pump_raw(self, reader: _Reader) -> None:
        while reader.buffer or reader.fill():
            fault, generation = self._control.current()
            if isinstance(fault, Delay) and not self._sink and self._control.draw(fault):
                self._delay(fault, generation)
            self._send_up(reader.take())
        self._client_done(reader)

    def _pump_http(self, reader: _Reader) -> None:
        while True:
            while (end := reader.buffer.find(b"\r\n\r\n")) < 0:
                if len(reader.buffer) > MAX_HEAD:
                    return self._pump_raw(reader)
                if not reader.fill():
                    return self._client_done(reader)
            try:
                head = parse_head(bytes(reader.buffer[: end + 4]))
            except ValueError:
                return self._pump_raw(reader)
            reader.take(end + 4)
            if not self._on_request(head, reader):
                return None
            if head.upgrade:
                return self._pump_raw(reader)
            try:
                if not self._pass_body(head, reader, self._send_up):
                    return self._client_done(reader)
            except ValueError:  # a chunked body the scanner cannot follow: stop parsing, keep forwarding
                return self._pump_raw(reader)

    def _on_request(self, head: RequestHead, reader: _Reader) -> bool:
        """Apply the fault to one request; False when the proxy answered it and the connection ends."""
        self._control.count("requests_seen")
        self._response_bytes = 0
        fault, generation = self._control.current()
        if not self._sink and isinstance(fault, HttpStatus) and self._control.draw(fault):
            self._answer(head, fault, reader)
            return False
        if not self._sink and isinstance(fault, Delay) and self._control.draw(fault):
            self._delay(fault, generation)
        if self._send_up(head.raw):
            self._control.count("requests_forwarded")
        return True

    def _pass_body(self, head: RequestHead, reader: _Reader, send: Callable[[bytes], object]) -> bool:
        """Hand the request's body to ``send`` as it arrives; False if the client left mid-body."""
        if head.chunked:
            scanner = ChunkedScanner()
            while reader.buffer or reader.fill():
                end = scanner.feed(bytes(reader.buffer))
                send(reader.take(end))
                if end is not None:
                    return True
            return False
        remaining = head.content_length
        while remaining:
            if not reader.buffer and not reader.fill():
                return False
            chunk = reader.take(min(remaining, len(reader.buffer)))
            remaining -= len(chunk)
            send(chunk)
        return True

    def _answer(self, head: RequestHead, fault: HttpStatus, reader: _Reader) -> None:
        """Answer the request with the fault's status, then close the way a server does (no RST)."""
        self._control.count_fault(fault.kind)
        if not head.expect_continue:  # the client waits for an answer before sending that body
            with contextlib.suppress(ValueError):
                self._pass_body(head, reader, lambda data: None)
        with self._client_write:
            self._client.sendall(fault.response(head_only=head.method == "HEAD"))
        with self._lock:
            if self._closed:
                return
            self._client.shutdown(socket.SHUT_WR)
            self._shutdown_upstream(socket.SHUT_RDWR)
        # Closing with unread input would reset the connection and could destroy the answer in flight.
        self._client.settimeout(_LINGER_SECONDS)
        try:
            while self._client.recv(_CHUNK) and not self.cancelled():
                pass
        except OSError:
            pass

    def _client_done(self, reader: _Reader) -> None:
        if reader.buffer:
            self._send_up(reader.take())
        if not self.cancelled():
            with self._lock:
                self._shutdown_upstream(socket.SHUT_WR)

    def _send_up(self, data: bytes) -> bool:
        """Forward to the upstream unless the fault holds or swallows it; True if forwarded."""
        fault = self._hold()
        if self.cancelled():
            return False
        if self._sink or isinstance(fault, Blackhole) or self._upstream is None:
            self._swallow(data)
            return False
        self._upstream.sendall(data)
        self._control.count("bytes_to_upstream", len(data))
        return True

    # The upstream side.

    def _serve_upstream(self) -> None:
        assert self._upstream is not None
        try:
            while data := self._upstream.recv(_CHUNK):
                self._send_down(data)
                if self.cancelled():
                    return
            if not self.cancelled() and not self._sink:
                with self._lock:
                    if not self._closed:
                        self._client.shutdown(socket.SHUT_WR)
        except OSError:
            self.abort()
        finally:
            self._leave()

    def _send_down(self, data: bytes) -> None:
        fault = self._hold()
        if self.cancelled():
            return
        if self._sink or isinstance(fault, Blackhole):
            self._swallow(data)
        elif isinstance(fault, ResetAfter):
            allowed = max(0, fault.nbytes - self._response_bytes)
            self._send_client(data[:allowed])
            if len(data) > allowed:
                self._control.count_fault(fault.kind)
                self.abort(reset=True)
        elif isinstance(fault, Bandwidth):
            self._pace(data, fault)
        else:
            self._send_client(data)

    def _pace(self, data: bytes, fault: Bandwidth) -> None:
        self._control.count_fault(fault.kind)
        step = max(1, int(fault.bytes_per_second * _PACE_SECONDS))
        _, generation = self._control.current()
        for start in range(0, len(data), step):
            if self._control.current()[1] != generation:  # the fault changed: the rest goes at full speed
                self._send_client(data[start:])
                return
            piece = data[start : start + step]
            self._send_client(piece)
            self._control.wait(len(piece) / fault.bytes_per_second, generation, self.cancelled)
            if self.cancelled():
                return

    def _send_client(self, data: bytes) -> None:
        if not data:
            return
        with self._client_write:
            self._client.sendall(data)
        self._response_bytes += len(data)
        self._control.count("bytes_to_client", len(data))

    # Faults shared by both sides.

    def _hold(self) -> Fault:
        """Wait while the fault is a stall; return the fault that ends it."""
        counted = False
        while True:
            fault, generation = self._control.current()
            if not isinstance(fault, Stall) or self.cancelled():
                return fault
            if not counted:
                self._control.count_fault(fault.kind)
                counted = True
            self._control.wait(None, generation, self.cancelled)

    def _delay(self, fault: Delay, generation: int) -> None:
        self._control.count_fault(fault.kind)
        self._control.wait(fault.seconds, generation, self.cancelled)

    def _swallow(self, data: bytes) -> None:
        if not self._sink:
            self._sink = True
            self._control.count_fault(Blackhole.kind)
        self._control.count("bytes_discarded", len(data))

"""FaultProxy injects each fault for real, on a local HTTP server, and counts what passed."""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from failover.testing.faults import Fault, FaultProxy

LOOPBACK = "127.0.0.1"


def payload(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


class Upstream(ThreadingHTTPServer):
    """HTTP/1.1 keep-alive server: ``GET /bytes/N`` answers N bytes, ``POST`` echoes the body."""

    daemon_threads = False  # server_close joins the handler threads: nothing outlives the test

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.paths: list[str] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def record(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: Upstream

    def do_GET(self) -> None:
        self.server.record(self.path)
        self._reply(payload(int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/bytes/") else 2))

    def do_POST(self) -> None:
        self.server.record(self.path)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            self._reply(bytes(body))
        else:
            self._reply(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(LOOPBACK, upstream.port) as started:
        yield started


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Counters move on the proxy's threads, a moment after the bytes they count."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@contextlib.contextmanager
def client(proxy: FaultProxy, timeout: float = 5.0) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection(LOOPBACK, proxy.port, timeout=timeout)
    try:
        yield connection
    finally:
        connection.close()


def fetch(
    connection: http.client.HTTPConnection, method: str = "GET", path: str = "/", body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection.request(method, path, body=body)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def exchange(port: int, request: bytes, timeout: float = 5.0) -> tuple[bytes, OSError | None]:
    """Send ``request`` on a fresh connection; what came back until EOF, and the error that ended it."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(request)
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            return bytes(received), exc
        return bytes(received), None


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode()


# Pass.


def test_pass_forwards_every_byte_unchanged_both_ways(proxy: FaultProxy) -> None:
    body = bytes(range(256)) * 40
    request = b"POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    received, error = exchange(proxy.port, request)
    assert error is None
    assert received.startswith(b"HTTP/1.0 200") or received.startswith(b"HTTP/1.1 200"), received[:80]
    assert received.endswith(b"\r\n\r\n" + body)
    assert eventually(lambda: proxy.stats.bytes_to_client == len(received)), proxy.stats
    assert eventually(lambda: proxy.stats.bytes_to_upstream == len(request)), proxy.stats


def test_keep_alive_requests_are_counted_one_by_one(proxy: FaultProxy, upstream: Upstream) -> None:
    with client(proxy) as connection:
        statuses = [fetch(connection, path=f"/bytes/{size}")[0] for size in (10, 70_000, 3)]
    assert statuses == [200, 200, 200]
    assert upstream.paths == ["/bytes/10", "/bytes/70000", "/bytes/3"]
    assert eventually(lambda: proxy.stats.requests_forwarded == 3), proxy.stats
    assert (proxy.stats.connections_accepted, proxy.stats.requests_seen) == (1, 3)


def test_chunked_request_body_passes_and_the_next_request_is_found(proxy: FaultProxy) -> None:
    with client(proxy) as connection:
        connection.request("POST", "/echo", body=iter([b"hello ", b"chunked ", b"world"]), encode_chunked=True)
        response = connection.getresponse()
        echoed = response.read()
        second = fetch(connection, path="/bytes/5")
    assert echoed == b"hello chunked world"
    assert second[0] == 200
    assert proxy.stats.requests_seen == 2


def test_non_http_bytes_are_forwarded_raw() -> None:
    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(65536):
                self.request.sendall(data)

    message = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(range(256))
    with socketserver.ThreadingTCPServer((LOOPBACK, 0), Echo) as server:
        server.daemon_threads = False
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            with FaultProxy(LOOPBACK, server.server_address[1]) as proxy:
                with socket.create_connection((LOOPBACK, proxy.port), timeout=5) as sock:
                    sock.sendall(message)
                    sock.shutdown(socket.SHUT_WR)
                    received = b"".join(iter(lambda: sock.recv(65536), b""))
                assert received == message
                assert proxy.stats.requests_seen == 0
        finally:
            server.shutdown()
            thread.join()


# Refuse, blackhole, stall.


def test_refuse_gives_connection_refused_and_clear_reopens_the_same_port(proxy: FaultProxy) -> None:
    port = proxy.port
    proxy.set(Fault.refuse())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LOOPBACK, port), timeout=5).close()
    proxy.clear()
    assert proxy.port == port
    with client(proxy) as connection:
        assert fetch(connection)[0] == 200


def test_refuse_cuts_open_connections(proxy: FaultProxy) -> None:
    with client(proxy) as connection:
        assert fetch(connection)[0] == 200
        proxy.set(Fault.refuse())
        with pytest.raises(ConnectionError):
            fetch(connection)
    assert proxy.stats.faults_by_kind == {"refuse": 1}


def test_blackhole_accepts_and_never_answers(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.set(Fault.blackhole())
    received, error = exchange(proxy.port, get_request("/bytes/10"), timeout=0.3)
    assert (received, type(error)) == (b"", TimeoutError)
    assert upstream.paths == []
    assert proxy.stats.requests_forwarded == 0
    assert eventually(lambda: proxy.stats.faults_by_kind == {"blackhole": 1}), proxy.stats


def test_blackhole_silences_an_open_connection(proxy: FaultProxy, upstream: Upstream) -> None:
    with client(proxy, timeout=0.3) as connection:
        assert fetch(connection)[0] == 200
        proxy.set(Fault.blackhole())
        with pytest.raises(TimeoutError):
            fetch(connection)
    assert upstream.paths == ["/"]


def test_stall_holds_a_request_and_delivers_it_when_cleared(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.set(Fault.stall())
    with socket.create_connection((LOOPBACK, proxy.port), timeout=0.3) as sock:
        sock.sendall(get_request("/bytes/7"))
        with pytest.raises(TimeoutError):
            sock.recv(1)
        assert upstream.paths == []
        proxy.clear()
        sock.settimeout(5)
        received = b"".join(iter(lambda: sock.recv(65536), b""))
    assert received.endswith(b"\r\n\r\n" + payload(7))
    assert upstream.paths == ["/bytes/7"]


# Delay, reset, bandwidth.


def test_delay_holds_each_request(proxy: FaultProxy) -> None:
    proxy.set(Fault.delay(0.02))
    with client(proxy) as connection:
        bodies = [fetch(connection, path="/bytes/4")[2] for _ in range(3)]
    assert bodies == [payload(4)] * 3
    assert proxy.stats.faults_by_kind == {"delay": 3}


def test_delay_with_a_fraction_holds_a_seeded_share_of_requests(proxy: FaultProxy) -> None:
    proxy.set(Fault.delay(0.01, fraction=0.5, seed=3))
    with client(proxy) as connection:
        bodies = [fetch(connection, path="/bytes/4")[2] for _ in range(40)]
    assert bodies == [payload(4)] * 40
    delayed = proxy.stats.faults_by_kind.get("delay", 0)
    assert 10 <= delayed <= 30, f"{delayed} of 40 requests delayed with fraction 0.5"
    proxy.set(Fault.delay(0.01, fraction=0.5, seed=3))
    with client(proxy) as connection:
        for _ in range(40):
            fetch(connection, path="/bytes/4")
    assert proxy.stats.faults_by_kind["delay"] == 2 * delayed, "the same seed did not delay the same share"


def test_reset_after_cuts_the_body_with_a_connection_reset(proxy: FaultProxy) -> None:
    proxy.set(Fault.reset_after(2000))
    received, error = exchange(proxy.port, get_request("/bytes/100000"))
    assert isinstance(error, ConnectionResetError), error
    assert b"Content-Length: 100000\r\n" in received
    assert 0 < len(received) <= 2000
    assert proxy.stats.faults_by_kind == {"reset": 1}


def test_bandwidth_limit_delivers_every_byte(proxy: FaultProxy) -> None:
    proxy.set(Fault.bandwidth(400_000))
    with client(proxy) as connection:
        status, _, body = fetch(connection, path="/bytes/60000")
    assert (status, body) == (200, payload(60000))
    assert proxy.stats.faults_by_kind["bandwidth"] >= 1
    assert eventually(lambda: proxy.stats.bytes_to_client > 60000), proxy.stats


# HTTP status.


def test_status_503_answers_without_reaching_the_upstream(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.set(Fault.http_status(503))
    with client(proxy) as connection:
        answers = [fetch(connection, path="/bytes/10") for _ in range(3)]
    assert [status for status, _, _ in answers] == [503] * 3
    assert answers[0][1:] == ({"Content-Length": "0", "Connection": "close"}, b"")
    assert upstream.paths == []
    stats = proxy.stats
    assert (stats.requests_seen, stats.requests_forwarded, stats.connections_accepted) == (3, 0, 3)
    assert stats.faults_by_kind == {"http_status": 3}


def test_status_429_carries_retry_after_and_the_given_body(proxy: FaultProxy) -> None:
    body = '{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}'
    proxy.set(Fault.http_status(429, retry_after=1, body=body, headers={"Content-Type": "application/json"}))
    with client(proxy) as connection:
        status, headers, received = fetch(connection)
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert headers["Content-Type"] == "application/json"
    assert received == body.encode()


def test_status_fraction_is_a_deterministic_seeded_mix(proxy: FaultProxy, upstream: Upstream) -> None:
    draws = random.Random(7)
    expected = [503 if draws.random() < 0.5 else 200 for _ in range(20)]
    proxy.set(Fault.http_status(503, fraction=0.5, seed=7))
    with client(proxy) as connection:
        statuses = [fetch(connection)[0] for _ in range(20)]
    assert statuses == expected
    assert 0 < statuses.count(503) < 20
    assert len(upstream.paths) == statuses.count(200)


def test_status_times_caps_the_answers(proxy: FaultProxy) -> None:
    proxy.set(Fault.http_status(503, times=2))
    with client(proxy) as connection:
        assert [fetch(connection)[0] for _ in range(4)] == [503, 503, 200, 200]


def test_status_reads_the_request_body_before_answering(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.set(Fault.http_status(503))
    with client(proxy) as connection:
        status, _, _ = fetch(connection, "POST", "/echo", body=payload(300_000))
    assert status == 503
    assert upstream.paths == []


def test_status_answers_expect_continue_before_the_body_is_sent(proxy: FaultProxy) -> None:
    proxy.set(Fault.http_status(503))
    head = b"PUT /key HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"
    received, error = exchange(proxy.port, head)
    assert error is None
    assert received.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")


def test_a_new_fault_applies_to_an_open_keep_alive_connection(proxy: FaultProxy) -> None:
    with client(proxy) as connection:
        first = fetch(connection)[0]
        proxy.set(Fault.http_status(503))
        second = fetch(connection)[0]
    assert (first, second) == (200, 503)
    assert proxy.stats.connections_accepted == 1


def test_clear_restores_passing_traffic(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.set(Fault.http_status(503))
    with client(proxy) as connection:
        assert fetch(connection)[0] == 503
        proxy.clear()
        assert fetch(connection)[0] == 200
    assert upstream.paths == ["/"]


# Life cycle and validation.


def test_stop_closes_connections_and_joins_every_thread(upstream: Upstream) -> None:
    proxy = FaultProxy(LOOPBACK, upstream.port).start()
    proxy.set(Fault.stall())
    with socket.create_connection((LOOPBACK, proxy.port), timeout=5) as sock:
        sock.sendall(get_request("/"))
        assert eventually(lambda: proxy.stats.faults_by_kind.get("stall", 0) >= 1)
        proxy.stop()
        assert sock.recv(10) == b""
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("fault-proxy")] == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Fault.delay(-1), "delay seconds"),
        (lambda: Fault.reset_after(-1), "nbytes"),
        (lambda: Fault.bandwidth(0), "bytes_per_second"),
        (lambda: Fault.http_status(99), "status"),
        (lambda: Fault.http_status(503, fraction=1.5), "fraction"),
        (lambda: Fault.http_status(503, headers={"X-Bad": "a\r\nb"}), "header"),
    ],
)
def test_invalid_fault_parameters_are_refused(make: Callable[[], Fault], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()

"""Every failure of GCS and Pub/Sub reaches the caller as failover's error, with the SDK's as its cause.

Real failures only: fake-gcs-server and the Pub/Sub emulator for what they answer (missing things,
preconditions, unknown ack ids), real sockets for the network (a closed port, a name under
``.invalid``, a port that accepts and never answers), and a small local HTTP server for what
fake-gcs-server cannot be made to answer: it checks no credentials, never throttles, never fails.
That server answers as GCS's JSON API does, with GCS's JSON error body::

    {"error": {"code": 401, "message": "Invalid Credentials", "errors": [{"domain": "global", ...}]}}
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from failover.adapters.gcp import GcsStore, PubSubQueue
from failover.config import GcsConfig, PubSubConfig, parse_config
from failover.errors import (
    AccessDenied,
    Disposition,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    ProviderUnavailable,
    Reason,
)
from failover.interfaces import Message, OutgoingMessage
from failover.testing.emulators import LocalClouds
from tests.adapters.support import Answer, AnsweringHandler, ServeHttp, assert_translated
from tests.support import UNRESOLVABLE_HOST, blackhole_port, closed_port

pytestmark = pytest.mark.emulator

_SDK_MODULES = ("google", "grpc", "requests", "urllib3", "builtins")
_assert_translated = functools.partial(assert_translated, provider="gcp", sdk_modules=_SDK_MODULES)


def _gcs_at(endpoint: str, **overrides: Any) -> GcsStore:
    fields = {"bucket": "unreachable", "endpoint_url": endpoint, "anonymous": True, "project": "test-project"}
    return GcsStore(parse_config(GcsConfig, {**fields, "connect_timeout": 1.0, **overrides}))


def _pubsub_at(host: str, **overrides: Any) -> PubSubQueue:
    fields = {"project": "test-project", "topic": "unreachable", "subscription": "unreachable-sub", "endpoint": host}
    return PubSubQueue(parse_config(PubSubConfig, {**fields, **overrides}))


# Missing things and preconditions (fake-gcs-server).


def test_head_of_a_missing_key_raises_not_found(gcs: GcsStore) -> None:
    with pytest.raises(NotFound) as raised:
        gcs.head("absent/key")
    _assert_translated(raised.value, operation="head", key="absent/key")


def test_get_of_a_missing_key_raises_not_found(gcs: GcsStore) -> None:
    with pytest.raises(NotFound) as raised:
        gcs.get("absent")
    _assert_translated(raised.value, operation="get", key="absent")


def test_calls_on_a_missing_bucket_fail_over_as_no_bucket(local_clouds: LocalClouds, unique_name: str) -> None:
    # fake-gcs-server answers an object's 404 and its bucket's alike: the adapter asks about the bucket.
    store = GcsStore(local_clouds.gcs.gcs_config(unique_name, ensure=False))
    calls: list[tuple[str, Callable[[], object]]] = [
        ("put", lambda: store.put("k", b"x")),
        ("get", lambda: store.get("k")),
        ("head", lambda: store.head("k")),
        ("delete", lambda: store.delete("k")),
        ("list", lambda: list(store.list(""))),
    ]
    for operation, call in calls:
        with pytest.raises(ProviderUnavailable) as raised:
            call()
        assert raised.value.operation == operation, f"{operation} on a missing bucket raised {raised.value!r}"
        assert (raised.value.reason, raised.value.disposition) == (Reason.NO_BUCKET, Disposition.FAILOVER)
        assert raised.value.__cause__ is not None
    store.close()


def test_create_only_put_of_an_existing_key_raises_precondition_failed(gcs: GcsStore) -> None:
    gcs.put("taken", b"first")
    with pytest.raises(PreconditionFailed) as raised:
        gcs.put("taken", b"second", if_none_match="*")
    _assert_translated(raised.value, operation="put", key="taken")
    assert gcs.get_bytes("taken") == b"first", "a failed create-only put changed the object"


def test_if_match_put_with_a_stale_generation_raises_precondition_failed(gcs: GcsStore) -> None:
    stale = gcs.put("doc", b"v1").etag
    assert stale is not None
    gcs.put("doc", b"v2")
    with pytest.raises(PreconditionFailed) as raised:
        gcs.put("doc", b"v3", if_match=stale)
    _assert_translated(raised.value, operation="put", key="doc")
    assert gcs.get_bytes("doc") == b"v2"


def test_if_match_put_of_a_missing_key_raises_precondition_failed_not_not_found(gcs: GcsStore) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        gcs.put("never-written", b"x", if_match="1234567890")
    _assert_translated(raised.value, operation="put", key="never-written")


def test_if_match_with_an_etag_that_is_no_generation_fails_before_the_network() -> None:
    # Another provider's etag can name no GCS generation: the condition cannot hold, and nothing is sent.
    store = _gcs_at(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(PreconditionFailed) as raised:
        store.put("k", b"x", if_match='"0123456789abcdef0123456789abcdef"')
    assert raised.value.__cause__ is None
    assert (raised.value.provider, raised.value.operation, raised.value.key) == ("gcp", "put", "k")


def test_copy_of_a_missing_source_raises_not_found_naming_the_source(gcs: GcsStore) -> None:
    with pytest.raises(NotFound) as raised:
        gcs.copy("no-source", "target")
    _assert_translated(raised.value, operation="copy", key="no-source")


# The network, for GCS.


def test_gcs_refused_connection_raises_provider_unavailable_refused() -> None:
    store = _gcs_at(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ProviderUnavailable) as raised:
        store.get("k")
    _assert_translated(raised.value, operation="get", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.REFUSED, Disposition.FAILOVER)
    # Nothing was sent, so a write that was refused certainly did not happen.
    with pytest.raises(ProviderUnavailable) as raised:
        store.put("k", b"x")
    assert raised.value.reason is Reason.REFUSED


def test_gcs_unresolvable_host_raises_provider_unavailable_dns() -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        _gcs_at(f"http://{UNRESOLVABLE_HOST}:4443").head("k")
    _assert_translated(raised.value, operation="head", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.DNS, Disposition.FAILOVER)


def test_gcs_read_timeout_on_a_read_raises_provider_unavailable_read_timeout() -> None:
    with blackhole_port() as port, pytest.raises(ProviderUnavailable) as raised:
        _gcs_at(f"http://127.0.0.1:{port}").head("k", timeout=0.5)
    _assert_translated(raised.value, operation="head", key="k")
    assert raised.value.reason is Reason.READ_TIMEOUT


def test_gcs_read_timeout_on_a_put_raises_outcome_unknown() -> None:
    with blackhole_port() as port, pytest.raises(OutcomeUnknown) as raised:
        _gcs_at(f"http://127.0.0.1:{port}", read_timeout=0.5).put("k", b"x")
    _assert_translated(raised.value, operation="put", key="k")


def test_put_with_a_bad_key_against_a_closed_port_raises_invalid_request() -> None:
    store = _gcs_at(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(InvalidRequest) as raised:
        store.put("bad/../key", b"x")
    assert raised.value.rule == "key.dot_segment"
    for call in (lambda: store.get("a//b"), lambda: store.head(""), lambda: store.copy("ok", "trailing/")):
        with pytest.raises(InvalidRequest):
            call()


# What fake-gcs-server cannot be made to answer: a local server speaking GCS's JSON API as GCS fails.


_Answer = tuple[int, bytes, int | None]  # status, body, declared Content-Length (None: the body's)


class _ScriptedGcs(AnsweringHandler):
    """Answers each request by the first ``routes`` prefix its path starts with; else a GCS 404."""

    routes: ClassVar[tuple[tuple[str, _Answer], ...]] = ()

    def answer(self) -> Answer:
        fallback: _Answer = (404, _gcs_error(404, "Not Found"), None)
        status, body, declared = next(
            (answer for prefix, answer in self.routes if self.path.startswith(prefix)), fallback
        )
        return status, {"Content-Type": "application/json; charset=UTF-8"}, body, declared


def _gcs_error(code: int, message: str, reason: str = "required") -> bytes:
    error = {"domain": "global", "reason": reason, "message": message}
    return json.dumps({"error": {"code": code, "message": message, "errors": [error]}}).encode()


@pytest.fixture
def scripted_gcs(serve_http: ServeHttp) -> Callable[..., GcsStore]:
    """Start a server answering by ``routes``; returns a store of its bucket ``scripted``."""

    def serve(*routes: tuple[str, _Answer]) -> GcsStore:
        return _gcs_at(serve_http(type("Handler", (_ScriptedGcs,), {"routes": routes})), bucket="scripted")

    return serve


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        (401, "Invalid Credentials", Reason.AUTH),  # the token: every call would be refused
        (403, "caller does not have storage.objects.get access", Reason.FORBIDDEN),  # this request only
    ],
)
def test_rejected_credentials_and_refused_requests_raise_access_denied(
    scripted_gcs: Callable[..., GcsStore], status: int, message: str, reason: Reason
) -> None:
    store = scripted_gcs(("/", (status, _gcs_error(status, message, "authError"), None)))
    calls: list[tuple[str, Callable[[], object]]] = [
        ("head", lambda: store.head("k")),
        ("put", lambda: store.put("k", b"x")),
    ]
    for operation, call in calls:
        with pytest.raises(AccessDenied) as raised:
            call()
        _assert_translated(raised.value, operation=operation, key="k")
        assert (raised.value.reason, raised.value.disposition) == (reason, Disposition.FAILOVER)


def test_too_many_requests_raises_provider_unavailable_throttled_to_retry(
    scripted_gcs: Callable[..., GcsStore],
) -> None:
    store = scripted_gcs(
        ("/", (429, _gcs_error(429, "The rate of change requests is too high.", "rateLimitExceeded"), None))
    )
    with pytest.raises(ProviderUnavailable) as raised:
        store.put("k", b"x")
    _assert_translated(raised.value, operation="put", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.THROTTLED, Disposition.RETRY)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_raise_provider_unavailable_server_error_to_retry(
    scripted_gcs: Callable[..., GcsStore], status: int
) -> None:
    store = scripted_gcs(("/", (status, _gcs_error(status, "Backend Error", "backendError"), None)))
    calls: list[tuple[str, Callable[[], object]]] = [
        ("head", lambda: store.head("k")),
        ("put", lambda: store.put("k", b"x")),
    ]
    for operation, call in calls:
        with pytest.raises(ProviderUnavailable) as raised:
            call()
        _assert_translated(raised.value, operation=operation, key="k")
        assert (raised.value.reason, raised.value.disposition) == (Reason.SERVER_ERROR, Disposition.RETRY)


def test_a_request_gcs_rejects_as_malformed_raises_invalid_request(scripted_gcs: Callable[..., GcsStore]) -> None:
    store = scripted_gcs(("/", (400, _gcs_error(400, "Invalid argument.", "invalid"), None)))
    with pytest.raises(InvalidRequest) as raised:
        store.head("k")
    _assert_translated(raised.value, operation="head", key="k")


def test_body_cut_short_raises_provider_unavailable_to_retry(scripted_gcs: Callable[..., GcsStore]) -> None:
    resource = {"name": "k", "bucket": "scripted", "size": "1000", "generation": "7", "metadata": {}}
    store = scripted_gcs(
        ("/storage/v1/b/scripted/o/k", (200, json.dumps(resource).encode(), None)),
        ("/download/storage/v1/b/scripted/o/k", (206, b"only ten b", 1000)),
    )
    # `get` fetches the first range itself (inside the call's attempt), so a body this small is cut
    # short there.
    with pytest.raises(ProviderUnavailable) as raised, store.get("k") as reader:
        reader.read()
    _assert_translated(raised.value, operation="get", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.RESET, Disposition.RETRY)


# Pub/Sub (its emulator, and the network).


def test_send_to_a_missing_topic_raises_not_found(local_clouds: LocalClouds, unique_name: str) -> None:
    queue = PubSubQueue(local_clouds.pubsub.pubsub_config(unique_name, ensure=False))
    with pytest.raises(NotFound) as raised:
        queue.send(b"x")
    _assert_translated(raised.value, operation="send")
    results = queue.send_batch([OutgoingMessage(b"a")])
    assert isinstance(results[0].error, NotFound), f"a batch to a missing topic gave {results}"
    queue.close()


def test_receive_from_a_missing_subscription_raises_not_found(local_clouds: LocalClouds, unique_name: str) -> None:
    queue = PubSubQueue(local_clouds.pubsub.pubsub_config(unique_name, ensure=False))
    with pytest.raises(NotFound) as raised:
        queue.receive(1)
    _assert_translated(raised.value, operation="receive")
    queue.close()


def test_ack_with_an_ack_id_pubsub_cannot_parse_raises_not_found(pubsub: PubSubQueue) -> None:
    pubsub.send(b"x")
    (message,) = pubsub.receive(1, wait=5)
    forged = dataclasses.replace(message, receipt="not-an-ack-id")
    calls: list[tuple[str, Callable[[], object]]] = [
        ("ack", lambda: pubsub.ack(forged)),
        ("nack", lambda: pubsub.nack(forged)),
        ("extend", lambda: pubsub.extend(forged, 30)),
    ]
    for operation, call in calls:
        with pytest.raises(NotFound) as raised:
            call()
        _assert_translated(raised.value, operation=operation, key=message.id)
    pubsub.ack(message)


def test_ack_of_a_message_without_a_pubsub_ack_id_is_invalid_before_the_network() -> None:
    queue = _pubsub_at(f"127.0.0.1:{closed_port()}")
    message = Message(body=b"", attributes={}, id="m", provider="memory", receipt=object())
    with pytest.raises(InvalidRequest):
        queue.ack(message)
    queue.close()


def test_pubsub_refused_connection_raises_provider_unavailable_refused() -> None:
    queue = _pubsub_at(f"127.0.0.1:{closed_port()}", read_timeout=2.0)
    for operation, call in (("send", lambda: queue.send(b"x")), ("receive", lambda: queue.receive(1))):
        with pytest.raises(ProviderUnavailable) as raised:
            call()
        _assert_translated(raised.value, operation=operation)
        assert (raised.value.reason, raised.value.disposition) == (Reason.REFUSED, Disposition.FAILOVER)
    queue.close()


def test_pubsub_unresolvable_host_raises_provider_unavailable_dns() -> None:
    queue = _pubsub_at(f"{UNRESOLVABLE_HOST}:8085", read_timeout=2.0)
    for operation, call in (("send", lambda: queue.send(b"x")), ("receive", lambda: queue.receive(1))):
        with pytest.raises(ProviderUnavailable) as raised:
            call()
        _assert_translated(raised.value, operation=operation)
        assert (raised.value.reason, raised.value.disposition) == (Reason.DNS, Disposition.FAILOVER)
    queue.close()


def test_pubsub_send_that_gets_no_answer_raises_outcome_unknown() -> None:
    with blackhole_port() as port:
        queue = _pubsub_at(f"127.0.0.1:{port}", read_timeout=0.5)
        with pytest.raises(OutcomeUnknown) as raised:
            queue.send(b"x")
        results = queue.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b")])
        queue.close()
    _assert_translated(raised.value, operation="send")
    assert [type(result.error) for result in results] == [OutcomeUnknown, OutcomeUnknown], (
        f"a batch that got no answer gave {results}"
    )


def test_pubsub_receive_over_a_connection_that_never_comes_up_raises_provider_unavailable() -> None:
    # An empty pull is Pub/Sub's way to say "nothing yet"; a pull that could not even connect is not.
    with blackhole_port() as port:
        queue = _pubsub_at(f"127.0.0.1:{port}", read_timeout=0.5)
        with pytest.raises(ProviderUnavailable) as raised:
            queue.receive(1, wait=0.5)
        queue.close()
    assert raised.value.reason is Reason.CONNECT_TIMEOUT
    assert raised.value.disposition is Disposition.FAILOVER
    _assert_translated(raised.value, operation="receive")


def test_hung_pubsub_looks_empty_to_receive_and_fails_sends_as_outcome_unknown(
    local_clouds: LocalClouds, unique_name: str
) -> None:
    # A stopped process keeps its connections open: an unanswered pull is what "no messages" looks like,
    # so receive cannot tell the hang; a send can, and health tracking sees it there.
    queue = PubSubQueue(local_clouds.pubsub.pubsub_config(unique_name, read_timeout=1.0))
    assert queue.receive(1) == []  # the channel is connected before the hang
    local_clouds.pause("pubsub")
    try:
        received = queue.receive(1, wait=0.5)
        with pytest.raises(OutcomeUnknown) as raised:
            queue.send(b"during the hang")
    finally:
        local_clouds.resume("pubsub")
        queue.close()
    assert received == []
    _assert_translated(raised.value, operation="send")

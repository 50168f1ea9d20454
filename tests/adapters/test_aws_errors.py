"""Every failure of S3 and SQS reaches the caller as failover's error, with botocore's as its cause.

Real failures only: moto for what it answers (missing things, preconditions, rejected credentials),
real sockets for the network (a closed port, a name under ``.invalid``, a port that never answers),
and a small local HTTP server for what moto cannot be made to answer (503 SlowDown, 500, a body cut
short), speaking S3's wire format as S3 does.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from failover.adapters.aws import S3Store, SqsQueue
from failover.config import S3Config, SqsConfig
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
from failover.testing.emulators import LocalClouds, MotoServer
from tests.adapters.support import Answer, AnsweringHandler, ServeHttp, assert_translated
from tests.moto_iam import IamMoto, allow_statement, deny_statement
from tests.support import UNRESOLVABLE_HOST, blackhole_port, closed_port

pytestmark = pytest.mark.emulator

_KEYS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


def _s3_at(endpoint: str, **overrides: Any) -> S3Store:
    fields = {"bucket": "unreachable", "endpoint_url": endpoint, "connect_timeout": 1.0, **_KEYS, **overrides}
    return S3Store(S3Config(**fields))


def _sqs_at(endpoint: str, **overrides: Any) -> SqsQueue:
    fields = {"queue": "unreachable", "endpoint_url": endpoint, "connect_timeout": 1.0, **_KEYS, **overrides}
    return SqsQueue(SqsConfig(**fields))


_assert_translated = functools.partial(assert_translated, provider="aws", sdk_modules=("botocore", "urllib3"))


# Missing things and preconditions (moto).


def test_get_of_a_missing_key_raises_not_found_from_no_such_key(s3: S3Store) -> None:
    with pytest.raises(NotFound) as raised:
        s3.get("absent/key")
    _assert_translated(raised.value, operation="get", key="absent/key")


def test_head_of_a_missing_key_raises_not_found_from_a_bare_404(s3: S3Store) -> None:
    with pytest.raises(NotFound) as raised:
        s3.head("absent")
    _assert_translated(raised.value, operation="head", key="absent")


def test_calls_on_a_missing_bucket_fail_over_as_no_bucket(local_clouds: LocalClouds, unique_name: str) -> None:
    # The bucket missing on S3 is S3's fault: another store may hold the key (HEAD's bare 404 included).
    store = S3Store(local_clouds.aws.s3_config(unique_name, ensure=False))
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


def test_create_only_put_of_an_existing_key_raises_precondition_failed(s3: S3Store) -> None:
    s3.put("taken", b"first")
    with pytest.raises(PreconditionFailed) as raised:
        s3.put("taken", b"second", if_none_match="*")
    _assert_translated(raised.value, operation="put", key="taken")
    assert s3.get_bytes("taken") == b"first", "a failed create-only put changed the object"


def test_if_match_put_with_a_stale_etag_raises_precondition_failed(s3: S3Store) -> None:
    stale = s3.put("doc", b"v1").etag
    assert stale is not None
    s3.put("doc", b"v2")
    with pytest.raises(PreconditionFailed) as raised:
        s3.put("doc", b"v3", if_match=stale)
    _assert_translated(raised.value, operation="put", key="doc")
    assert s3.get_bytes("doc") == b"v2"


def test_if_match_put_of_a_missing_key_raises_precondition_failed_not_not_found(s3: S3Store) -> None:
    # S3 answers 404 NoSuchKey; for a conditional put that means the condition was not met.
    with pytest.raises(PreconditionFailed) as raised:
        s3.put("never-written", b"x", if_match='"0123456789abcdef0123456789abcdef"')
    _assert_translated(raised.value, operation="put", key="never-written")


def test_copy_of_a_missing_source_raises_not_found_naming_the_source(s3: S3Store) -> None:
    with pytest.raises(NotFound) as raised:
        s3.copy("no-source", "target")
    _assert_translated(raised.value, operation="copy", key="no-source")


def test_send_to_a_missing_queue_raises_not_found(local_clouds: LocalClouds, unique_name: str) -> None:
    queue = SqsQueue(local_clouds.aws.sqs_config(unique_name, ensure=False))
    with pytest.raises(NotFound) as raised:
        queue.send(b"x")
    _assert_translated(raised.value, operation="send")
    with pytest.raises(NotFound):
        queue.receive(1)


def test_ack_with_a_receipt_sqs_does_not_know_raises_not_found(sqs: SqsQueue) -> None:
    sqs.send(b"x")
    (message,) = sqs.receive(1, wait=5)
    forged = dataclasses.replace(message, receipt="not-a-receipt-handle")
    with pytest.raises(NotFound) as raised:
        sqs.ack(forged)
    _assert_translated(raised.value, operation="ack")
    with pytest.raises(NotFound):
        sqs.extend(forged, 30)


def test_extend_after_ack_raises_not_found(sqs: SqsQueue) -> None:
    sqs.send(b"x")
    (message,) = sqs.receive(1, wait=5)
    sqs.ack(message)
    with pytest.raises(NotFound):
        sqs.extend(message, 30)


def test_ack_of_a_message_without_an_sqs_receipt_is_invalid_before_the_network() -> None:
    queue = _sqs_at(f"http://127.0.0.1:{closed_port()}")
    message = Message(body=b"", attributes={}, id="m", provider="memory", receipt=object())
    with pytest.raises(InvalidRequest):
        queue.ack(message)


# Rejected credentials: a moto of its own that checks signatures from its first request.


class _AuthenticatingMoto(MotoServer):
    name = "moto-auth"

    def _environment(self) -> dict[str, str]:
        # moto then checks every request against its IAM users; "testing" is not one of them.
        return {**super()._environment(), "INITIAL_NO_AUTH_ACTION_COUNT": "0"}


@pytest.fixture(scope="module")
def authenticating_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = _AuthenticatingMoto(log_dir=tmp_path_factory.mktemp("moto-auth"))
    server.start()
    yield server
    server.stop()


def test_s3_rejecting_the_credentials_raises_access_denied(authenticating_moto: MotoServer) -> None:
    store = S3Store(authenticating_moto.s3_config("any-bucket", ensure=False))
    with pytest.raises(AccessDenied) as raised:
        store.put("k", b"x")
    _assert_translated(raised.value, operation="put", key="k")
    assert raised.value.reason is Reason.AUTH
    assert raised.value.disposition is Disposition.FAILOVER
    with pytest.raises(AccessDenied):
        store.head("k")  # HEAD answers carry no body: a bare 403, read as a refusal (the GET and PUT tell)


def test_sqs_rejecting_the_credentials_raises_access_denied(authenticating_moto: MotoServer) -> None:
    queue = SqsQueue(authenticating_moto.sqs_config("any-queue", ensure=False))
    with pytest.raises(AccessDenied) as raised:
        queue.send(b"x")
    _assert_translated(raised.value, operation="send")


# The network.


def test_refused_connection_raises_provider_unavailable_refused() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ProviderUnavailable) as raised:
        _s3_at(endpoint).get("k")
    _assert_translated(raised.value, operation="get", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.REFUSED, Disposition.FAILOVER)
    # Nothing was sent, so a write that was refused certainly did not happen.
    with pytest.raises(ProviderUnavailable) as raised:
        _s3_at(endpoint).put("k", b"x")
    assert raised.value.reason is Reason.REFUSED


def test_unresolvable_host_raises_provider_unavailable_dns() -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        _s3_at(f"http://{UNRESOLVABLE_HOST}:9000").head("k")
    _assert_translated(raised.value, operation="head", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.DNS, Disposition.FAILOVER)


def test_read_timeout_on_a_read_raises_provider_unavailable_read_timeout() -> None:
    with blackhole_port() as port, pytest.raises(ProviderUnavailable) as raised:
        _s3_at(f"http://127.0.0.1:{port}").get("k", timeout=0.5)
    _assert_translated(raised.value, operation="get", key="k")
    assert raised.value.reason is Reason.READ_TIMEOUT


def test_read_timeout_on_a_put_raises_outcome_unknown() -> None:
    with blackhole_port() as port, pytest.raises(OutcomeUnknown) as raised:
        _s3_at(f"http://127.0.0.1:{port}", read_timeout=0.5).put("k", b"x")
    _assert_translated(raised.value, operation="put", key="k")


def test_put_with_a_bad_key_is_invalid_before_any_network_call() -> None:
    store = _s3_at(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(InvalidRequest) as raised:
        store.put("bad/../key", b"x")
    assert raised.value.rule == "key.dot_segment"
    for call in (lambda: store.get("a//b"), lambda: store.head(""), lambda: store.copy("ok", "trailing/")):
        with pytest.raises(InvalidRequest):
            call()


def test_sqs_refused_raises_provider_unavailable_refused() -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        _sqs_at(f"http://127.0.0.1:{closed_port()}").send(b"x")
    _assert_translated(raised.value, operation="send")
    assert raised.value.reason is Reason.REFUSED


def test_sqs_unresolvable_host_raises_provider_unavailable_dns() -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        _sqs_at(f"http://{UNRESOLVABLE_HOST}:9324").receive(1)
    _assert_translated(raised.value, operation="receive")
    assert raised.value.reason is Reason.DNS


def test_sqs_read_timeout_on_receive_raises_provider_unavailable() -> None:
    with blackhole_port() as port, pytest.raises(ProviderUnavailable) as raised:
        _sqs_at(f"http://127.0.0.1:{port}").receive(1, timeout=0.5)
    _assert_translated(raised.value, operation="receive")
    assert raised.value.reason is Reason.READ_TIMEOUT


def test_sqs_send_that_times_out_after_it_was_sent_raises_outcome_unknown(
    local_clouds: LocalClouds, unique_name: str
) -> None:
    queue = SqsQueue(local_clouds.aws.sqs_config(unique_name, read_timeout=0.5))
    queue.send(b"before")  # resolves the queue URL while moto answers
    local_clouds.pause("aws")  # a hang: connections open, nothing answers
    try:
        with pytest.raises(OutcomeUnknown) as raised:
            queue.send(b"during")
        results = queue.send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b")])
        with pytest.raises(OutcomeUnknown):
            queue.ack(Message(body=b"", attributes={}, id="m", provider="aws", receipt="r"))
    finally:
        local_clouds.resume("aws")
    _assert_translated(raised.value, operation="send")
    assert [type(result.error) for result in results] == [OutcomeUnknown, OutcomeUnknown], (
        f"a batch that timed out gave {results}"
    )


# What moto cannot be made to answer: a local server that answers the way S3 and SQS fail.


class _Scripted(AnsweringHandler):
    """Answers each request from ``answers``, by its X-Amz-Target (SQS's JSON protocol) or ``"*"``."""

    answers: ClassVar[dict[str, Answer]] = {}
    seen: ClassVar[list[str]] = []  # each request's X-Amz-Target or method

    def answer(self) -> Answer:
        target = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        self.seen.append(target or self.command)
        return self.answers.get(target) or self.answers["*"]


@pytest.fixture
def scripted(serve_http: ServeHttp) -> Callable[..., str]:
    """Start a server answering from a script; returns its endpoint. ``seen`` collects the requests."""

    def serve(answers: dict[str, Answer], seen: list[str] | None = None) -> str:
        return serve_http(type("Handler", (_Scripted,), {"answers": answers, "seen": [] if seen is None else seen}))

    return serve


def _s3_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


_XML = {"Content-Type": "application/xml"}


Scripted = Callable[..., str]


def test_slow_down_raises_provider_unavailable_throttled_to_retry(scripted: Scripted) -> None:
    store = _s3_at(scripted({"*": (503, _XML, _s3_error("SlowDown", "Please reduce your request rate."), None)}))
    with pytest.raises(ProviderUnavailable) as raised:
        store.get("k")
    _assert_translated(raised.value, operation="get", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.THROTTLED, Disposition.RETRY)


def test_internal_error_raises_provider_unavailable_server_error_to_retry(scripted: Scripted) -> None:
    store = _s3_at(scripted({"*": (500, _XML, _s3_error("InternalError", "We encountered an internal error."), None)}))
    with pytest.raises(ProviderUnavailable) as raised:
        store.put("k", b"x")
    _assert_translated(raised.value, operation="put", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.SERVER_ERROR, Disposition.RETRY)


def test_a_request_s3_rejects_as_malformed_raises_invalid_request(scripted: Scripted) -> None:
    store = _s3_at(scripted({"*": (400, _XML, _s3_error("InvalidArgument", "Invalid argument."), None)}))
    with pytest.raises(InvalidRequest) as raised:
        store.get("k")
    _assert_translated(raised.value, operation="get", key="k")


def test_body_cut_short_mid_read_raises_provider_unavailable_to_retry(scripted: Scripted) -> None:
    headers = {"Content-Type": "application/octet-stream", "ETag": '"0123456789abcdef0123456789abcdef"'}
    store = _s3_at(scripted({"*": (200, headers, b"only ten b", 1000)}))
    reader = store.get("k")
    with pytest.raises(ProviderUnavailable) as raised:
        reader.read()
    reader.close()
    _assert_translated(raised.value, operation="get", key="k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.RESET, Disposition.RETRY)


_JSON = {"Content-Type": "application/x-amz-json-1.0"}


def test_batch_entries_sqs_fails_alone_get_their_own_errors(scripted: Scripted) -> None:
    endpoint = scripted(
        {
            "GetQueueUrl": (200, _JSON, json.dumps({"QueueUrl": "http://127.0.0.1/000000000000/q"}).encode(), None),
            "SendMessageBatch": (
                200,
                _JSON,
                json.dumps(
                    {
                        "Successful": [{"Id": "0", "MessageId": "id-0", "MD5OfMessageBody": "0" * 32}],
                        "Failed": [
                            {"Id": "1", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "bad"},
                            {"Id": "2", "SenderFault": False, "Code": "InternalError", "Message": "try again"},
                        ],
                    }
                ).encode(),
                None,
            ),
        }
    )
    results = _sqs_at(endpoint).send_batch([OutgoingMessage(b"a"), OutgoingMessage(b"b"), OutgoingMessage(b"c")])
    assert [result.id for result in results] == ["id-0", None, None], results
    assert isinstance(results[1].error, InvalidRequest), results[1]
    failed = results[2].error
    assert isinstance(failed, ProviderUnavailable), results[2]
    assert (failed.reason, failed.disposition) == (Reason.SERVER_ERROR, Disposition.RETRY)


def test_a_fifo_batch_stops_at_its_first_failed_call_to_keep_order(scripted: Scripted) -> None:
    first_call = {
        "Successful": [{"Id": str(n), "MessageId": f"id-{n}", "MD5OfMessageBody": "0" * 32} for n in range(9)],
        "Failed": [{"Id": "9", "SenderFault": False, "Code": "ServiceUnavailable", "Message": "later"}],
    }
    seen: list[str] = []
    endpoint = scripted(
        {
            "GetQueueUrl": (
                200,
                _JSON,
                json.dumps({"QueueUrl": "http://127.0.0.1/000000000000/q.fifo"}).encode(),
                None,
            ),
            "SendMessageBatch": (200, _JSON, json.dumps(first_call).encode(), None),
        },
        seen,
    )
    queue = _sqs_at(endpoint, queue="ordered.fifo", fifo=True)
    results = queue.send_batch([OutgoingMessage(f"m{n}".encode()) for n in range(12)])
    assert [result.id for result in results[:9]] == [f"id-{n}" for n in range(9)], results
    assert all(isinstance(result.error, ProviderUnavailable) for result in results[9:]), results[9:]
    assert seen.count("SendMessageBatch") == 1, f"after a failed entry the FIFO batch still sent: {seen}"


def test_send_answered_without_a_message_id_raises_outcome_unknown(scripted: Scripted) -> None:
    """An answer cut short parses as a success with no id (seen through the fault proxy in the chaos
    run): the message may or may not be on the queue, and no KeyError may escape the adapter."""
    queue_url = json.dumps({"QueueUrl": "http://127.0.0.1/000000000000/q"}).encode()
    queue = _sqs_at(scripted({"GetQueueUrl": (200, _JSON, queue_url, None), "SendMessage": (200, _JSON, b"{}", None)}))
    try:
        with pytest.raises(OutcomeUnknown) as raised:
            queue.send(b"x")
        assert (raised.value.provider, raised.value.operation) == ("aws", "send")
    finally:
        queue.close()


# Least privilege: S3 answers a HEAD or GET of a missing key with 403 to a caller without s3:ListBucket
# (moto answers 404 there, so this server speaks for S3), and a role may be denied one prefix (moto).


def test_a_403_on_one_key_is_a_refusal_not_rejected_credentials(scripted: Scripted) -> None:
    store = _s3_at(scripted({"*": (403, _XML, _s3_error("AccessDenied", "Access Denied"), None)}))
    for operation, call in (("get", lambda: store.get("k")), ("head", lambda: store.head("k"))):
        with pytest.raises(AccessDenied) as raised:
            call()
        _assert_translated(raised.value, operation=operation, key="k")
        assert raised.value.reason is Reason.FORBIDDEN, f"{operation}: {raised.value!r}"


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"])
def test_rejected_credentials_are_auth_failures(scripted: Scripted, code: str) -> None:
    store = _s3_at(scripted({"*": (403, _XML, _s3_error(code, "rejected"), None)}))
    with pytest.raises(AccessDenied) as raised:
        store.get("k")
    assert (raised.value.reason, raised.value.disposition) == (Reason.AUTH, Disposition.FAILOVER)


def test_a_role_denied_one_prefix_is_refused_there_only(least_privilege_moto: IamMoto, unique_name: str) -> None:
    least_privilege_moto.admin_s3().create_bucket(Bucket=unique_name)
    least_privilege_moto.set_app_policy(
        allow_statement("s3:*"), deny_statement("s3:GetObject", f"arn:aws:s3:::{unique_name}/secret/*")
    )
    store = S3Store(least_privilege_moto.app_s3_config(unique_name))
    try:
        store.put("secret/k", b"x")
        store.put("open/k", b"x")
        for operation, call in (("get", lambda: store.get("secret/k")), ("head", lambda: store.head("secret/k"))):
            with pytest.raises(AccessDenied) as raised:
                call()
            assert raised.value.reason is Reason.FORBIDDEN, f"{operation}: {raised.value!r}"
        assert store.get_bytes("open/k") == b"x"
    finally:
        store.close()

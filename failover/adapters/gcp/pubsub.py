"""`PubSubQueue`: one Pub/Sub topic and its subscription as a `MessageQueue`.

Sends use the synchronous Publish RPC by default (``max_batch_messages=1``: each message at once,
no 10 ms batching delay, no commit thread); with ``max_batch_messages > 1`` they go through the
batching publisher. Either way with ``retry=None`` and the attempt's timeout. Receives are unary
pulls with retries off; ack, nack and extend are
``Acknowledge`` and ``ModifyAckDeadline``. Pub/Sub has no per-message delay (``max_delay`` 0) and no
FIFO across ordering keys (``fifo`` False).

Delivery counts: Pub/Sub counts deliveries only for a subscription with a dead-letter policy. With
``ensure=True`` the adapter creates the subscription with one (``<topic>-dead-letter``, after 100
deliveries, kept by a ``<subscription>-dead-letter`` subscription), so ``delivery_count`` is real;
on a subscription without one it is always 1.

Ack ids: acking a message twice, or after its deadline passed, succeeds silently (Pub/Sub without
exactly-once delivery answers OK); an ack id Pub/Sub cannot parse raises `NotFound`.

A hung Pub/Sub that still holds its connections (a stopped process) looks like an empty subscription
to `receive`: an unanswered pull is how Pub/Sub itself says "no messages". Sends and probes see the
hang; a pull over a connection that never came up raises `ProviderUnavailable`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from failover.adapters._arguments import check_ack, check_batch, check_extend, check_nack, check_receive
from failover.adapters._messages import prepare_send, split_attributes
from failover.adapters._sdk import require
from failover.adapters._timing import MIN_REQUEST
from failover.adapters.gcp._errors import PROVIDER, translate_errors
from failover.adapters.gcp._project import resolve_project
from failover.clock import Clock, SystemClock
from failover.errors import ConfigError, FailoverError, InvalidRequest, NotFound, ProviderUnavailable, Reason
from failover.interfaces import Message, MessageId, OutgoingMessage, QueueCapabilities, SendResult

if TYPE_CHECKING:
    from failover.config import PubSubConfig

__all__ = ["MAX_MESSAGE_SIZE", "PubSubQueue"]

_MAX_REQUEST_BYTES = 10_000_000  # Pub/Sub's limit on one Publish request
# The largest body sent with the most attributes failover allows: 100 attributes of 256-byte names and
# 1024-byte values take 128,900 bytes of the request, a 255-character project and topic 530, framing 10.
# 128 KiB covers them all, so any body up to this size is accepted whatever its attributes.
MAX_MESSAGE_SIZE = _MAX_REQUEST_BYTES - 128 * 1024
_MAX_ATTRIBUTES = 100
_MAX_ACK_DEADLINE = 600  # seconds; Pub/Sub's limit on ack deadlines and their extensions
_MAX_BATCH = 100
_DEAD_LETTER_SUFFIX = "-dead-letter"
_MAX_DELIVERY_ATTEMPTS = 100  # the most Pub/Sub allows before dead-lettering
# Even receive(wait=0) gives a pull this long: an answer with messages takes milliseconds, and a
# shorter deadline would cut off the ones on their way.
_MIN_PULL = 0.5
_FIRST_PAUSE, _MAX_PAUSE = 0.05, 1.0  # between pulls that came back empty, doubling
# publish() takes attributes as keyword arguments; these names would collide with its own parameters.
_PUBLISH_KEYWORDS = frozenset({"topic", "data", "ordering_key", "retry", "timeout"})
# Pub/Sub refuses a message with neither data nor attributes; an empty body travels with this one.
_EMPTY_KEY = "failover_empty"
# An ack id Pub/Sub cannot parse names no message in flight.
_RECEIPT_OVERRIDES: Mapping[str, type[FailoverError]] = {"InvalidArgument": NotFound}
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def _sdk(name: str) -> Any:
    return require(name, extra="gcp", user="PubSubQueue")


def _make_clients(config: PubSubConfig) -> tuple[Any, Any]:
    """The batching publisher and the (unary) subscriber client."""
    pubsub = _sdk("google.cloud.pubsub_v1")
    gapic = _sdk("google.pubsub_v1")
    batching = pubsub.types.BatchSettings(max_messages=config.max_batch_messages, max_bytes=_MAX_REQUEST_BYTES)
    if config.endpoint:
        # An emulator speaks plain gRPC. A channel per client (not PUBSUB_EMULATOR_HOST, which is
        # process-wide) lets several emulators serve one process.
        grpc = _sdk("grpc")
        publisher_transports = _sdk("google.pubsub_v1.services.publisher.transports")
        subscriber_transports = _sdk("google.pubsub_v1.services.subscriber.transports")
        host = config.endpoint
        return (
            pubsub.PublisherClient(
                batch_settings=batching,
                transport=publisher_transports.PublisherGrpcTransport(
                    channel=grpc.insecure_channel(host, options=_CHANNEL_OPTIONS), host=host
                ),
            ),
            gapic.SubscriberClient(
                transport=subscriber_transports.SubscriberGrpcTransport(
                    channel=grpc.insecure_channel(host, options=_CHANNEL_OPTIONS), host=host
                )
            ),
        )
    credentials: Any = None
    if config.credentials_file is not None:
        try:
            credentials = _sdk("google.oauth2.service_account").Credentials.from_service_account_file(
                str(config.credentials_file)
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read Pub/Sub credentials from {str(config.credentials_file)!r}: {exc}",
                field="credentials_file",
            ) from None
    try:
        return (
            pubsub.PublisherClient(batch_settings=batching, credentials=credentials),
            gapic.SubscriberClient(credentials=credentials),
        )
    except _sdk("google.auth.exceptions").DefaultCredentialsError as exc:
        raise ConfigError(
            f"no Google credentials found for PubSubQueue (set credentials_file): {exc}", field="credentials_file"
        ) from None


def _seconds(value: object, rule: str) -> int:
    """Whole seconds for an ack deadline (rounded up), or `InvalidRequest`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= _MAX_ACK_DEADLINE:
        raise InvalidRequest(
            f"{rule} is 0 to {_MAX_ACK_DEADLINE} s on Pub/Sub, not {value!r}", rule=rule, imposed_by="Pub/Sub"
        )
    return math.ceil(value)


def _receipt(message: Message) -> str:
    if not isinstance(message.receipt, str) or not message.receipt:
        raise InvalidRequest(
            f"message {message.id!r} carries no Pub/Sub ack id", rule="receipt", imposed_by="failover", key=message.id
        )
    return message.receipt


class PubSubQueue:
    """One Pub/Sub topic plus subscription. ``PubSubQueue(PubSubConfig(...))``; close it when done."""

    def __init__(self, config: PubSubConfig, *, clock: Clock | None = None) -> None:
        self._config = config
        self._clock: Clock = clock or SystemClock()
        self._name = config.name or f"{PROVIDER}:pubsub:{config.subscription}"
        project = resolve_project(config.project, user="PubSubQueue")
        self._topic = f"projects/{project}/topics/{config.topic}"
        self._subscription = f"projects/{project}/subscriptions/{config.subscription}"
        self._capabilities = QueueCapabilities(
            max_message_size=MAX_MESSAGE_SIZE,
            max_attributes=_MAX_ATTRIBUTES,
            max_delay=0.0,
            fifo=False,
            native_dedup=False,
            max_batch=_MAX_BATCH,
            max_visibility=float(_MAX_ACK_DEADLINE),
        )
        self._gapic_publish = _sdk("google.pubsub_v1").PublisherClient.publish
        self._publisher, self._subscriber = _make_clients(config)
        self._closed = False
        if config.ensure:
            try:
                self._ensure()
            except BaseException:
                self.close()
                raise

    @property
    def read_timeout(self) -> float:
        """Seconds one request waits for an answer when the call names no timeout (the configured
        ``read_timeout``): the failover engine's default attempt timeout for this endpoint."""
        return self._config.read_timeout

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def capabilities(self) -> QueueCapabilities:
        return self._capabilities

    def __repr__(self) -> str:
        return f"<PubSubQueue {self._name}>"

    def _timeout(self, timeout: float | None) -> float:
        return self._config.read_timeout if timeout is None else timeout

    def _ensure(self) -> None:
        exceptions = _sdk("google.api_core.exceptions")
        timeout = self._timeout(None)

        def create(call: Callable[..., object], request: dict[str, object]) -> None:
            with contextlib.suppress(exceptions.AlreadyExists):
                call(request=request, timeout=timeout, retry=None)

        subscription: dict[str, object] = {
            "name": self._subscription,
            "topic": self._topic,
            "ack_deadline_seconds": self._config.ack_deadline,
        }
        with translate_errors(operation="ensure", key=self._config.subscription, write=True):
            create(self._publisher.create_topic, {"name": self._topic})
            dead_topic, dead_subscription = self._topic + _DEAD_LETTER_SUFFIX, self._subscription + _DEAD_LETTER_SUFFIX
            # Names are at most 255 characters; a name too long for the suffix goes without the policy.
            if max(len(self._config.topic), len(self._config.subscription)) + len(_DEAD_LETTER_SUFFIX) <= 255:
                create(self._publisher.create_topic, {"name": dead_topic})
                create(self._subscriber.create_subscription, {"name": dead_subscription, "topic": dead_topic})
                subscription["dead_letter_policy"] = {
                    "dead_letter_topic": dead_topic,
                    "max_delivery_attempts": _MAX_DELIVERY_ATTEMPTS,
                }
            create(self._subscriber.create_subscription, subscription)

    def _start(self, body: bytes, attributes: dict[str, str], timeout: float) -> Callable[[float], str]:
        """Begin publishing one message; the returned function waits (at most its argument) for the id."""
        if not body and not attributes:
            attributes = {_EMPTY_KEY: "1"}
        # The batching publisher only pays when it batches. With one message a batch it adds a commit
        # thread and a race: after a failed commit, the next publish can meet the failed batch and
        # trip the SDK's "Publish after stop() or publish error" assertion (seen here).
        if self._config.max_batch_messages > 1 and _PUBLISH_KEYWORDS.isdisjoint(attributes):
            future = self._publisher.publish(self._topic, body, retry=None, timeout=timeout, **attributes)
            return lambda wait: str(future.result(timeout=wait))
        # The synchronous Publish RPC takes attributes as a map, so any name goes.
        response = self._gapic_publish(
            self._publisher,
            request={"topic": self._topic, "messages": [{"data": body, "attributes": attributes}]},
            retry=None,
            timeout=timeout,
        )
        message_id = str(response.message_ids[0])
        return lambda wait: message_id

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        checked = prepare_send(
            body,
            attributes=attributes,
            dedup_id=dedup_id,
            delay=delay,
            capabilities=self._capabilities,
            provider=PROVIDER,
            timeout=timeout,
        )
        seconds = self._timeout(timeout)
        with translate_errors(operation="send", write=True):
            return self._start(bytes(body), checked, seconds)(seconds)

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        batch = check_batch(messages, timeout)
        if len(batch) > _MAX_BATCH:
            raise InvalidRequest(
                f"Pub/Sub sends at most {_MAX_BATCH} messages a batch here, not {len(batch)}",
                rule="batch.max_count",
                imposed_by=PROVIDER,
                operation="send_batch",
            )
        seconds = self._timeout(timeout)
        deadline = self._clock.monotonic() + seconds
        started: list[Callable[[float], str] | FailoverError] = []
        for entry in batch:  # all published first, so they travel together; then the ids are collected
            try:
                checked = prepare_send(
                    entry.body,
                    attributes=entry.attributes,
                    dedup_id=entry.dedup_id,
                    delay=entry.delay,
                    capabilities=self._capabilities,
                    provider=PROVIDER,
                )
                with translate_errors(operation="send_batch", write=True):
                    # Without the batching publisher each message is a call: the batch's share one attempt.
                    left = max(deadline - self._clock.monotonic(), MIN_REQUEST)
                    started.append(self._start(bytes(entry.body), checked, left))
            except FailoverError as exc:
                started.append(exc)
        results: list[SendResult] = []
        for item in started:
            if isinstance(item, FailoverError):
                results.append(SendResult(error=item))
                continue
            try:
                with translate_errors(operation="send_batch", write=True):
                    results.append(SendResult(id=item(max(deadline - self._clock.monotonic(), 0.0))))
            except FailoverError as exc:
                results.append(SendResult(error=exc))
        return results

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        check_receive(max_messages, wait, visibility, timeout, capabilities=self._capabilities, imposed_by="Pub/Sub")
        hide_for = None if visibility is None else _seconds(visibility, "visibility")
        attempt = self._timeout(timeout)
        deadline = self._clock.monotonic() + wait
        hold_until = deadline + attempt  # the call ends by then: its wait, and one attempt on top
        pause = _FIRST_PAUSE
        while True:
            remaining = deadline - self._clock.monotonic()
            received = self._pull(max_messages, min(max(remaining, _MIN_PULL), attempt))
            if received:
                break
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return []
            self._clock.sleep(min(pause, remaining))
            pause = min(pause * 2, _MAX_PAUSE)
        if hide_for is not None:
            with translate_errors(operation="receive", write=True):
                self._subscriber.modify_ack_deadline(
                    request={
                        "subscription": self._subscription,
                        "ack_ids": [item.ack_id for item in received],
                        "ack_deadline_seconds": hide_for,
                    },
                    timeout=max(hold_until - self._clock.monotonic(), MIN_REQUEST),
                    retry=None,
                )
        return [self._message(item) for item in received]

    def _pull(self, max_messages: int, timeout: float) -> list[Any]:
        exceptions = _sdk("google.api_core.exceptions")
        with translate_errors(operation="receive"):
            try:
                response = self._subscriber.pull(
                    request={"subscription": self._subscription, "max_messages": max_messages},
                    timeout=timeout,
                    retry=None,
                )
            except exceptions.DeadlineExceeded as exc:
                # Pub/Sub holds a pull open until messages come; over a live connection, no answer is "none yet".
                if self._connected():
                    return []
                raise ProviderUnavailable(
                    f"no connection to Pub/Sub at {self._subscriber.transport.host} within {timeout:g} s",
                    reason=Reason.CONNECT_TIMEOUT,
                    provider=PROVIDER,
                    operation="receive",
                ) from exc
        return list(response.received_messages)

    def _connected(self) -> bool:
        """Whether the subscriber's channel is READY (connected and past the HTTP/2 handshake).

        gRPC's public ways to ask (``channel_ready_future``, ``subscribe``) start a polling thread that
        fails loudly if the channel closes under it; the channel's own state check starts none. Where it
        is missing, the silence counts as "no messages", as Pub/Sub means it.
        """
        grpc = _sdk("grpc")
        check = getattr(
            getattr(self._subscriber.transport.grpc_channel, "_channel", None), "check_connectivity_state", None
        )
        if check is None:
            return True
        return bool(check(False) == grpc.ChannelConnectivity.READY.value[0])

    def _message(self, received: Any) -> Message:
        pubsub_message = received.message
        raw = dict(pubsub_message.attributes)
        raw.pop(_EMPTY_KEY, None)
        attributes, dedup_id = split_attributes(raw)
        return Message(
            body=bytes(pubsub_message.data),
            attributes=attributes,
            id=str(pubsub_message.message_id),
            provider=PROVIDER,
            receipt=str(received.ack_id),
            # delivery_attempt is 0 on a subscription without a dead-letter policy: Pub/Sub does not count.
            delivery_count=max(1, int(received.delivery_attempt)),
            dedup_id=dedup_id,
            queue=self._name,
        )

    def _modify(self, message: Message, seconds: int, operation: str, timeout: float | None) -> None:
        ack_id = _receipt(message)
        with translate_errors(operation=operation, key=message.id, write=True, overrides=_RECEIPT_OVERRIDES):
            self._subscriber.modify_ack_deadline(
                request={"subscription": self._subscription, "ack_ids": [ack_id], "ack_deadline_seconds": seconds},
                timeout=self._timeout(timeout),
                retry=None,
            )

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        check_ack(message, timeout)
        ack_id = _receipt(message)
        with translate_errors(operation="ack", key=message.id, write=True, overrides=_RECEIPT_OVERRIDES):
            self._subscriber.acknowledge(
                request={"subscription": self._subscription, "ack_ids": [ack_id]},
                timeout=self._timeout(timeout),
                retry=None,
            )

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        check_nack(message, delay, timeout, capabilities=self._capabilities, imposed_by="Pub/Sub")
        self._modify(message, _seconds(delay, "delay"), "nack", timeout)

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        check_extend(message, visibility, timeout, capabilities=self._capabilities, imposed_by="Pub/Sub")
        self._modify(message, _seconds(visibility, "visibility"), "extend", timeout)

    def probe(self, *, timeout: float | None = None) -> None:
        """A cheap call that proves the subscription answers; the failover layer's health probe."""
        with translate_errors(operation="probe", key=self._config.subscription):
            self._subscriber.get_subscription(
                request={"subscription": self._subscription}, retry=None, timeout=self._timeout(timeout)
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._publisher.stop()  # sends whatever is still batched
        self._publisher.transport.close()
        self._subscriber.transport.close()

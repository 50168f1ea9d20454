"""A message `FailoverQueue` accepts fits on every queue of its set, whichever it fails over to.

On the emulators: SQS first, Azure Queue and Pub/Sub behind it. What FailoverQueue hands SQS (body
or claim-check pointer, attributes, failover_id) is recorded and sent as it is to Azure Queue and to
Pub/Sub, which must take it: those are the sends a failover would make.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from failover.adapters.aws import SqsQueue
from failover.adapters.azure import AzureQueue
from failover.adapters.gcp import PubSubQueue
from failover.adapters.memory import MemoryStore
from failover.engine import EngineSettings
from failover.errors import InvalidRequest
from failover.interfaces import MessageId, MessageQueue
from failover.queue import FailoverQueue
from failover.testing.emulators import LocalClouds
from failover.testing.faulty_queue import FaultyQueue

pytestmark = pytest.mark.emulator

SETTINGS = EngineSettings(start_probers=False)


@dataclass(frozen=True)
class Sent:
    body: bytes
    attributes: dict[str, str]
    dedup_id: str | None


class RecordingQueue(FaultyQueue):
    """Records each send that reaches it, then passes it on."""

    def __init__(self, inner: MessageQueue) -> None:
        super().__init__(inner)
        self.sent: list[Sent] = []

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        self.sent.append(Sent(bytes(body), dict(attributes or {}), dedup_id))
        return super().send(body, attributes=attributes, dedup_id=dedup_id, delay=delay, timeout=timeout)


@dataclass
class Set:
    sqs: RecordingQueue
    others: list[MessageQueue]

    def failover_targets_take_what_sqs_took(self) -> None:
        while self.sqs.sent:
            sent = self.sqs.sent.pop()
            for queue in self.others:
                try:
                    queue.send(sent.body, attributes=sent.attributes, dedup_id=sent.dedup_id)
                except InvalidRequest as exc:
                    raise AssertionError(
                        f"{queue.name} refused a message SQS took through the FailoverQueue "
                        f"({len(sent.body)}-byte body, {len(sent.attributes)} attributes): {exc}"
                    ) from exc


@pytest.fixture
def queue_set(local_clouds: LocalClouds, unique_name: str) -> Iterator[Set]:
    sqs = RecordingQueue(SqsQueue(local_clouds.aws.sqs_config(unique_name)))
    azure = AzureQueue(local_clouds.azure.azure_queue_config(unique_name))
    pubsub = PubSubQueue(local_clouds.pubsub.pubsub_config(unique_name))
    yield Set(sqs, [azure, pubsub])
    for queue in (sqs, azure, pubsub):
        queue.close()


def _failover(queue_set: Set, *, claim_check: bool) -> FailoverQueue:
    queues: list[MessageQueue] = [queue_set.sqs, *queue_set.others]
    # The adapters are closed by the fixture; a FailoverQueue that is not closed keeps no thread.
    return FailoverQueue(queues, settings=SETTINGS, claim_check=MemoryStore() if claim_check else None)


_NAMES = st.from_regex(r"[a-z][a-z0-9_.\-]{0,20}", fullmatch=True).filter(lambda n: not n.startswith("goog"))
# The characters that cost most in each encoding: XML-escaped, JSON-escaped, multi-byte.
_COSTLY = st.sampled_from(["<", "&", ">", '"', "\\", "é", "\u20ac", "\U0001f600", "a"])
_VALUES = st.builds(
    lambda char, n: (char * n).encode("utf-8")[:1024].decode("utf-8", "ignore") or "a", _COSTLY, st.integers(1, 1024)
)
_ATTRIBUTES = st.dictionaries(_NAMES, _VALUES, max_size=8)
_DEDUP = st.none() | st.builds(lambda char, n: char * n, st.sampled_from(["<", "&", "a"]), st.integers(1, 128))
_BYTES = st.sampled_from([b"\x00", b"<", b"a", b"\xff"])

_PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_PROPERTY
@given(size_below_limit=st.integers(0, 40_000), fill=_BYTES, attributes=_ATTRIBUTES, dedup_id=_DEDUP)
@example(size_below_limit=0, fill=b"a", attributes={}, dedup_id=None)  # a body at the advertised limit
@example(
    size_below_limit=48543 - 12 * 1024, fill=b"a", attributes={f"a{i}": "<" * 1024 for i in range(8)}, dedup_id=None
)
def test_a_message_accepted_without_claim_check_fits_every_queue_of_the_set(
    queue_set: Set, size_below_limit: int, fill: bytes, attributes: dict[str, str], dedup_id: str | None
) -> None:
    queue = _failover(queue_set, claim_check=False)
    body = fill * max(0, queue.capabilities.max_message_size - size_below_limit)
    try:
        queue.send(body, attributes=attributes, dedup_id=dedup_id)
    except InvalidRequest:
        assert not queue_set.sqs.sent, "a message refused as too large reached SQS"
        return
    queue_set.failover_targets_take_what_sqs_took()


@_PROPERTY
@given(size_below_limit=st.integers(0, 60_000), fill=_BYTES, attributes=_ATTRIBUTES, dedup_id=_DEDUP)
@example(size_below_limit=0, fill=b"a", attributes={}, dedup_id=None)
@example(size_below_limit=0, fill=b"<", attributes={f"a{i}": "<" * 1024 for i in range(8)}, dedup_id="<" * 128)
def test_with_claim_check_every_valid_message_is_accepted_and_fits_every_queue(
    queue_set: Set, size_below_limit: int, fill: bytes, attributes: dict[str, str], dedup_id: str | None
) -> None:
    queue = _failover(queue_set, claim_check=True)
    body = fill * max(0, 65_536 - size_below_limit)
    queue.send(body, attributes=attributes, dedup_id=dedup_id)
    queue_set.failover_targets_take_what_sqs_took()


def test_a_body_at_the_advertised_limit_is_accepted_with_the_longest_dedup_id(queue_set: Set) -> None:
    queue = _failover(queue_set, claim_check=False)
    queue.send(b"<" * queue.capabilities.max_message_size, dedup_id="<" * 128)
    queue_set.failover_targets_take_what_sqs_took()

"""What every queue adapter checks before a send, and the attribute names failover reserves.

The rules are the strictest of SQS, Pub/Sub and Azure Queue together (Azure has no attributes:
its adapter carries them in an envelope), so a message can move to any provider on failover.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from failover.adapters._arguments import check_attributes_type, check_timeout, seconds
from failover.errors import InvalidRequest
from failover.interfaces import MessageQueue, QueueCapabilities
from failover.keys import RESERVED_PREFIX

__all__ = ["DEDUP_KEY", "SupportsBodyRoom", "body_room", "prepare_send", "split_attributes", "validate_dedup_id"]

DEDUP_KEY = "failover_dedup_id"
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,256}\Z")
_DEDUP_ID = re.compile(r"[!-~]{1,128}\Z")  # printable ASCII without space: SQS's rule
# Characters SQS accepts in strings (XML 1.0); Pub/Sub and Azure accept them all.
_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MAX_VALUE_BYTES = 1024  # Pub/Sub's limit on an attribute value


@runtime_checkable
class SupportsBodyRoom(Protocol):
    """A queue whose encoding makes attributes and body share one limit (Azure Queue's envelope)."""

    def body_room(self, attributes: Mapping[str, str]) -> int:
        """The largest body of any bytes that fits beside ``attributes`` (the dedup id among them,
        under `DEDUP_KEY`); never more than ``capabilities.max_message_size``."""
        ...


def body_room(queue: MessageQueue, attributes: Mapping[str, str]) -> int:
    """How large a body of any bytes ``queue`` takes beside ``attributes``: its `SupportsBodyRoom`
    answer, else ``capabilities.max_message_size`` (a queue whose body limit holds with any attributes)."""
    if isinstance(queue, SupportsBodyRoom):
        return queue.body_room(attributes)
    return queue.capabilities.max_message_size


def _reject(rule: str, imposed_by: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{message} [{rule}; {imposed_by}]", rule=rule, imposed_by=imposed_by)


def validate_dedup_id(dedup_id: str | None) -> str | None:
    if dedup_id is not None and (not isinstance(dedup_id, str) or not _DEDUP_ID.match(dedup_id)):
        raise _reject("dedup_id", "SQS", f"a dedup id is 1 to 128 printable ASCII characters, not {dedup_id!r}")
    return dedup_id


def prepare_send(
    body: object,
    *,
    attributes: Mapping[str, str] | None,
    dedup_id: str | None,
    delay: float,
    capabilities: QueueCapabilities,
    provider: str,
    reserved_allowed: frozenset[str] = frozenset(),
    timeout: object = None,
) -> dict[str, str]:
    """Check one outgoing message; return the attributes to send (the dedup id included).

    Raises `InvalidRequest` naming the limit and the provider, before any network call.
    ``reserved_allowed`` names the ``failover_`` attributes the failover layer may set; ``timeout``
    is the send's (a batch's is checked once, by `check_batch`).
    """
    check_timeout(timeout, "send")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise _reject("body.type", "failover", f"a message body is bytes, not {type(body).__name__}")
    if len(body) > capabilities.max_message_size:
        raise _reject(
            "body.max_size",
            provider,
            f"{provider} takes bodies of at most {capabilities.max_message_size} bytes, not {len(body)}",
        )
    out: dict[str, str] = {}
    for name, value in check_attributes_type(attributes, "send").items():
        if not isinstance(name, str) or not _ATTRIBUTE_NAME.match(name):
            raise _reject("attribute.name", "SQS", f"attribute name {name!r} must match [A-Za-z0-9_.-]{{1,256}}")
        if name.startswith(RESERVED_PREFIX) and name not in reserved_allowed:
            raise _reject(
                "attribute.reserved", "failover", f"attribute names starting {RESERVED_PREFIX!r} are reserved"
            )
        if name.lower().startswith(("aws.", "amazon.", "goog")):
            raise _reject("attribute.provider_prefix", "SQS, Pub/Sub", f"attribute name {name!r} is reserved")
        if not isinstance(value, str):
            raise _reject(
                "attribute.value_type", "SQS, Pub/Sub", f"attribute {name!r} must be a str, not {type(value).__name__}"
            )
        if not value:
            raise _reject("attribute.value_empty", "SQS", f"attribute {name!r} must not be empty")
        if len(value.encode("utf-8", "surrogatepass")) > _MAX_VALUE_BYTES or _SQS_TEXT.search(value):
            raise _reject(
                "attribute.value", "SQS, Pub/Sub", f"attribute {name!r} must be at most 1024 bytes of XML-safe text"
            )
        out[name] = value
    if dedup_id is not None:
        out[DEDUP_KEY] = validate_dedup_id(dedup_id) or ""
    if len(out) > capabilities.max_attributes:
        raise _reject(
            "attributes.max_count",
            provider,
            f"{provider} takes at most {capabilities.max_attributes} attributes (failover's included), not {len(out)}",
        )
    seconds(delay, rule="delay", upper=capabilities.max_delay, operation="send", imposed_by=provider)
    return out


def split_attributes(raw: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """``(caller's attributes, dedup id)`` from what a provider delivered."""
    user = {name: value for name, value in raw.items() if name != DEDUP_KEY}
    return user, raw.get(DEDUP_KEY)

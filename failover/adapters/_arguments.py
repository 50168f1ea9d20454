"""The checks on the arguments of every `MessageQueue` call, shared by the adapters and `FailoverQueue`.

Each raises `InvalidRequest` naming the argument (its ``rule``) before any provider is called: a
wrong type (a bool is not a number, a str is not bytes), NaN, an infinity, a negative or too large
number of seconds, a count out of range. The body, attributes and dedup id of a send are checked by
`failover.adapters._messages.prepare_send`, which uses `seconds` for the delay.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from failover.errors import InvalidRequest
from failover.interfaces import Message, OutgoingMessage, QueueCapabilities

__all__ = [
    "check_ack",
    "check_attributes_type",
    "check_batch",
    "check_extend",
    "check_message",
    "check_nack",
    "check_receive",
    "check_timeout",
    "seconds",
]


def _invalid(rule: str, imposed_by: str, operation: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{message} [{rule}; {imposed_by}]", rule=rule, imposed_by=imposed_by, operation=operation)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def seconds(value: object, *, rule: str, upper: float, operation: str, imposed_by: str) -> float:
    """``value`` as seconds from 0 to ``upper`` (a finite number, not a bool), or `InvalidRequest`."""
    if not _is_number(value) or not 0 <= value <= upper or not math.isfinite(value):  # type: ignore[operator, arg-type]
        raise _invalid(rule, imposed_by, operation, f"{rule} is 0 to {upper:g} seconds, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_timeout(timeout: object, operation: str) -> None:
    """``timeout`` is None or a finite number of seconds > 0."""
    if timeout is None:
        return
    if not _is_number(timeout) or not 0 < timeout < math.inf:  # type: ignore[operator]
        raise _invalid("timeout", "failover", operation, f"timeout is None or a number of seconds > 0, not {timeout!r}")


def check_attributes_type(attributes: object, operation: str) -> Mapping[str, Any]:
    """``attributes`` as a mapping (None is empty); each name and value is checked by `prepare_send`."""
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise _invalid(
            "attributes.type",
            "failover",
            operation,
            f"attributes is a mapping of str to str, not {type(attributes).__name__}",
        )
    return attributes


def check_receive(
    max_messages: object,
    wait: object,
    visibility: object,
    timeout: object,
    *,
    capabilities: QueueCapabilities,
    imposed_by: str,
) -> None:
    """The arguments of ``receive``: 1 to ``max_batch`` messages, a finite wait, a visibility in range."""
    if (
        isinstance(max_messages, bool)
        or not isinstance(max_messages, int)
        or not 1 <= max_messages <= capabilities.max_batch
    ):
        raise _invalid(
            "max_messages",
            imposed_by,
            "receive",
            f"max_messages is 1 to {capabilities.max_batch}, not {max_messages!r}",
        )
    seconds(wait, rule="wait", upper=math.inf, operation="receive", imposed_by="failover")
    if visibility is not None:
        seconds(
            visibility, rule="visibility", upper=capabilities.max_visibility, operation="receive", imposed_by=imposed_by
        )
    check_timeout(timeout, "receive")


def check_message(message: object, operation: str) -> None:
    """``message`` is a `Message` (whether this queue delivered it is the adapter's to say)."""
    if not isinstance(message, Message):
        raise _invalid(
            "message.type", "failover", operation, f"{operation} takes a Message, not {type(message).__name__}"
        )


def check_ack(message: object, timeout: object) -> None:
    check_message(message, "ack")
    check_timeout(timeout, "ack")


def check_nack(
    message: object, delay: object, timeout: object, *, capabilities: QueueCapabilities, imposed_by: str
) -> float:
    """The delay of a ``nack`` (0 to the longest visibility), as a float."""
    check_message(message, "nack")
    checked = seconds(delay, rule="delay", upper=capabilities.max_visibility, operation="nack", imposed_by=imposed_by)
    check_timeout(timeout, "nack")
    return checked


def check_extend(
    message: object, visibility: object, timeout: object, *, capabilities: QueueCapabilities, imposed_by: str
) -> float:
    """The visibility of an ``extend`` (0 to the longest visibility), as a float."""
    check_message(message, "extend")
    checked = seconds(
        visibility, rule="visibility", upper=capabilities.max_visibility, operation="extend", imposed_by=imposed_by
    )
    check_timeout(timeout, "extend")
    return checked


def check_batch(messages: object, timeout: object) -> list[OutgoingMessage]:
    """The entries of a ``send_batch``, as a list: an iterable of `OutgoingMessage`, nothing else."""
    check_timeout(timeout, "send_batch")
    if isinstance(messages, str | bytes | bytearray | memoryview | Mapping) or not isinstance(messages, Iterable):
        raise _invalid(
            "batch.type",
            "failover",
            "send_batch",
            f"a batch is an iterable of OutgoingMessage, not {type(messages).__name__}",
        )
    entries = list(messages)
    for entry in entries:
        if not isinstance(entry, OutgoingMessage):
            raise _invalid(
                "batch.entry_type",
                "failover",
                "send_batch",
                f"a batch entry is an OutgoingMessage, not {type(entry).__name__}",
            )
    return entries

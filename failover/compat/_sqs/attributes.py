"""SQS message attributes carried through any queue, and the MD5s SQS computes over bodies and attributes.

Each typed attribute travels as one string attribute of the same name, ``"DataType:value"`` (a
Binary value base64-encoded), which Pub/Sub attributes and Azure's envelope keep byte for byte, so
``Number.float`` and Binary come back as they were sent. The send time and the FIFO group travel
as ``x-sqs-sent`` and ``x-sqs-group``, hidden from the caller's attributes.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from failover.compat._errors import S3Error

__all__ = [
    "GROUP",
    "SENT",
    "decode",
    "encode",
    "md5_of_attributes",
    "md5_of_body",
    "select",
]

SENT = "x-sqs-sent"
GROUP = "x-sqs-group"
_HIDDEN = (SENT, GROUP)
_BINARY = "Binary"


def invalid(message: str, code: str = "InvalidParameterValue") -> S3Error:
    return S3Error(code, 400, message, QueryErrorCode=code, Type="Sender")


def encode(attributes: Mapping[str, Mapping[str, Any]] | None) -> dict[str, str]:
    """SQS's ``MessageAttributes`` as flat string attributes; raises SQS's validation errors."""
    out: dict[str, str] = {}
    for name, value in (attributes or {}).items():
        data_type = str(value.get("DataType") or "")
        if not data_type:
            raise invalid(f"The message attribute '{name}' must contain non-empty message attribute type.")
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", _BINARY):
            raise invalid(
                f"The message attribute '{name}' has an invalid message attribute type, the set of "
                "supported type prefixes is Binary, Number, and String."
            )
        if base == _BINARY:
            raw = value.get("BinaryValue")
            if raw is None:
                raise invalid(f"The message attribute '{name}' with type 'Binary' must use field 'Binary'.")
            text = base64.b64encode(bytes(raw)).decode()
        else:
            string = value.get("StringValue")
            text = "" if string is None else str(string)
            if not text:
                raise invalid(
                    f"The message attribute '{name}' must contain non-empty message attribute value "
                    f"for message attribute type '{data_type}'."
                )
        out[name] = f"{data_type}:{text}"
    return out


def decode(attributes: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The caller's typed attributes from what a queue delivered."""
    out: dict[str, dict[str, Any]] = {}
    for name, flat in attributes.items():
        if name in _HIDDEN or name.startswith("failover_") or ":" not in flat:
            continue
        data_type, _, text = flat.partition(":")
        if data_type.split(".", 1)[0] == _BINARY:
            out[name] = {"BinaryValue": base64.b64decode(text), "DataType": data_type}
        else:
            out[name] = {"StringValue": text, "DataType": data_type}
    return out


def select(attributes: Mapping[str, dict[str, Any]], names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The attributes ``MessageAttributeNames`` asks for: names, ``All`` or ``.*``, and ``prefix.*``."""
    wanted = list(names)
    if any(name in ("All", ".*") for name in wanted):
        return dict(attributes)
    prefixes = tuple(name[:-1] for name in wanted if name.endswith(".*"))
    exact = set(wanted)
    return {name: value for name, value in attributes.items() if name in exact or name.startswith(prefixes or ("\0",))}


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's MD5OfMessageAttributes: names sorted, each field length-prefixed, a transport byte per type."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        data_type = str(value["DataType"])
        for part in (name.encode(), data_type.encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        if data_type.startswith(_BINARY):
            raw = bytes(value["BinaryValue"])
            digest.update(b"\x02" + struct.pack(">I", len(raw)) + raw)
        else:
            raw = str(value["StringValue"]).encode()
            digest.update(b"\x01" + struct.pack(">I", len(raw)) + raw)
    return digest.hexdigest()

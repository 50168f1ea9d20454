"""Message bodies on SQS: any bytes in, any bytes out, through a service that carries XML-safe text.

A body that is UTF-8 text SQS accepts goes as it is, readable by any SQS consumer. Any other body
goes base64-encoded, marked by the ``failover_encoding`` attribute; the empty body, which SQS
refuses, is marked ``empty``. A message without the marker (sent by another producer) is text.

The size limit is the worst case: a base64 body plus the most attribute bytes `prepare_send` lets
through, within SQS's (and moto's) 1 MiB for one message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

__all__ = [
    "ATTRIBUTE_BYTES",
    "ENCODING_KEY",
    "MAX_BODY",
    "MAX_CALLER_ATTRIBUTES",
    "SQS_MAX_MESSAGE",
    "attribute_bytes",
    "decode_body",
    "encode_body",
]

ENCODING_KEY = "failover_encoding"
SQS_MAX_MESSAGE = 1024 * 1024  # body and attributes of one message, and of one batch (SQS since 2025; moto 5.2)
SQS_MAX_ATTRIBUTES = 10
# The caller's attributes, failover_dedup_id included; the encoding marker takes the tenth slot.
MAX_CALLER_ATTRIBUTES = SQS_MAX_ATTRIBUTES - 1
_STRING = "String"
# SQS counts an attribute as its name, its data type and its value. prepare_send allows names of
# 256 characters and values of 1024 bytes; the marker is at most "failover_encoding"/"String"/"base64".
_MAX_ATTRIBUTE = 256 + len(_STRING) + 1024
ATTRIBUTE_BYTES = MAX_CALLER_ATTRIBUTES * _MAX_ATTRIBUTE + len(ENCODING_KEY) + len(_STRING) + len("base64")
# The largest body of any bytes whose base64 form fits beside the most attribute bytes.
MAX_BODY = (SQS_MAX_MESSAGE - ATTRIBUTE_BYTES) // 4 * 3
# What SQS accepts as text (XML 1.0 characters). Carriage returns go as base64: XML parsers on the
# way may turn them into line feeds.
_NOT_SQS_TEXT = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def encode_body(body: bytes) -> tuple[str, str | None]:
    """``(text to send, encoding marker or None)`` for ``body``."""
    if not body:
        return "-", "empty"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"
    if _NOT_SQS_TEXT.search(text):
        return base64.b64encode(body).decode("ascii"), "base64"
    return text, None


def decode_body(text: str, encoding: str | None) -> bytes | None:
    """The bytes that `encode_body` turned into ``text``, or None if ``encoding`` is not one of ours.

    A message without a marker (another producer's) is its text, in UTF-8.
    """
    if encoding is None:
        return text.encode("utf-8")
    if encoding == "empty":
        return b""
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def attribute_bytes(attributes: Mapping[str, str]) -> int:
    """How many bytes SQS counts for ``attributes`` (String attributes)."""
    return sum(len(name) + len(_STRING) + len(value.encode("utf-8")) for name, value in attributes.items())

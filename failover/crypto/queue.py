"""`EncryptedQueue`: a `MessageQueue` whose bodies and attribute values every provider sees sealed.

Each message gets its own key, derived (HKDF-SHA256) from the active master key's data key and a
random 12-byte nonce; the body becomes an envelope::

    version 1 || key id length (1) || key id || wrapped length (2) || wrapped data key || nonce (12)
      || AES-256-GCM(message key, nonce[:8] || 0, body, associated data = the envelope before it
                     and the sorted attribute names)

and each attribute value ``base64url(AES-256-GCM(message key, nonce[:8] || i, value, name))``, ``i``
counting from 1 in name order. Names stay in the clear (providers route and filter on them), and so
does the dedup id. Put it over a `FailoverQueue`: a body too large for the queues goes to its
claim-check store already sealed. The envelope costs bytes of every body and the sealing a third of
every attribute value; `capabilities` reports what is left for the caller.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from failover.adapters._arguments import check_batch
from failover.adapters._messages import prepare_send
from failover.crypto._aead import KEY_SIZE, TAG_SIZE, Aead, derive, load_aead
from failover.crypto.keys import Keyring
from failover.errors import IntegrityError, InvalidRequest
from failover.interfaces import Message, MessageId, MessageQueue, OutgoingMessage, QueueCapabilities, SendResult

__all__ = ["EncryptedQueue"]

_VERSION = 1
_NONCE = 12
_INFO = b"failover/message/v1"
_MAX_SEALED_VALUE = 1024  # Pub/Sub's limit on an attribute value, the strictest
# The largest value whose sealed, base64url form still fits.
MAX_ATTRIBUTE_VALUE = (_MAX_SEALED_VALUE * 3 // 4) - TAG_SIZE


class EncryptedQueue:
    """A `MessageQueue` over ``queue`` that seals under ``keys.active`` and opens under any key.

    A received message that fails its check raises `IntegrityError` from `receive`, and the rest of
    its batch comes again after the visibility timeout. With ``on_integrity_error``, the message and
    the error go to that callable instead (to ack it, or move it aside) and the batch is returned
    without it: one bad message then does not hold up the others.
    """

    def __init__(
        self,
        queue: MessageQueue,
        keys: Keyring,
        *,
        on_integrity_error: Callable[[Message, IntegrityError], None] | None = None,
    ) -> None:
        self._aesgcm, self._invalid_tag = load_aead("EncryptedQueue")
        self._on_integrity_error = on_integrity_error
        self._inner = queue
        self._keys = keys
        inner = queue.capabilities
        overhead = self._overhead(keys.active.key_id)
        self._capabilities = replace(inner, max_message_size=max(0, inner.max_message_size - overhead))

    def _overhead(self, key_id: str) -> int:
        provider = self._keys.get(key_id)
        return 1 + 1 + len(key_id.encode()) + 2 + provider.max_wrapped_size + _NONCE + TAG_SIZE

    @property
    def name(self) -> str:
        return self._inner.name  # the same queue: received messages name it, and acks are routed by it

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def capabilities(self) -> QueueCapabilities:
        return self._capabilities

    @property
    def inner(self) -> MessageQueue:
        return self._inner

    def _seal(
        self, body: bytes, attributes: Mapping[str, str] | None, dedup_id: str | None, delay: float
    ) -> tuple[bytes, dict[str, str]]:
        user = prepare_send(
            body,
            attributes=attributes,
            dedup_id=dedup_id,
            delay=delay,
            capabilities=self._capabilities,
            provider=self.provider,
        )
        user.pop("failover_dedup_id", None)
        for name, value in user.items():
            if len(value.encode("utf-8", "surrogatepass")) > MAX_ATTRIBUTE_VALUE:
                raise InvalidRequest(
                    f"attribute {name!r} is sealed to base64, so it holds at most {MAX_ATTRIBUTE_VALUE} bytes"
                    " [attribute.value; Pub/Sub, once sealed by failover.crypto]",
                    rule="attribute.value",
                    imposed_by="Pub/Sub",
                )
        provider = self._keys.active
        data_key = provider.new_data_key()
        nonce = os.urandom(_NONCE)
        key_id = provider.key_id.encode()
        clear = (
            bytes([_VERSION, len(key_id)])
            + key_id
            + struct.pack(">H", len(data_key.wrapped))
            + data_key.wrapped
            + nonce
        )
        aead = self._message_key(data_key.plaintext, nonce)
        names = sorted(user)
        sealed_body = aead.encrypt(_nonce(nonce, 0), bytes(body), clear + _names_ad(names))
        sealed_attributes = {
            name: base64.urlsafe_b64encode(
                aead.encrypt(_nonce(nonce, index), user[name].encode("utf-8", "surrogatepass"), name.encode())
            )
            .decode("ascii")
            .rstrip("=")
            for index, name in enumerate(names, start=1)
        }
        return clear + sealed_body, sealed_attributes

    def _message_key(self, data_key: bytes, nonce: bytes) -> Aead:
        return self._aesgcm(derive(data_key, salt=nonce, info=_INFO, length=KEY_SIZE))

    def _open(self, message: Message) -> Message:
        raw = message.body

        def broken(what: str, key_id: str | None = None) -> IntegrityError:
            return IntegrityError(
                f"message {message.id} {what}", key_id=key_id, check="message envelope", operation="receive"
            )

        if len(raw) < 2 or raw[0] != _VERSION:
            raise broken("is not a sealed envelope (sent around the encryption?)")
        at = 2 + raw[1]
        key_id_raw = raw[2:at]
        if len(key_id_raw) != raw[1] or len(raw) < at + 2:
            raise broken("has a truncated envelope")
        key_id = key_id_raw.decode("utf-8", "replace")
        (wrapped_len,) = struct.unpack(">H", raw[at : at + 2])
        wrapped = raw[at + 2 : at + 2 + wrapped_len]
        at += 2 + wrapped_len
        nonce = raw[at : at + _NONCE]
        if len(wrapped) != wrapped_len or len(nonce) != _NONCE or len(raw) < at + _NONCE + TAG_SIZE:
            raise broken("has a truncated envelope", key_id)
        provider = self._keys.get(key_id)
        aead = self._message_key(provider.unwrap(wrapped), nonce)
        names = sorted(message.attributes)
        try:
            body = aead.decrypt(_nonce(nonce, 0), raw[at + _NONCE :], raw[: at + _NONCE] + _names_ad(names))
            attributes = {
                name: aead.decrypt(_nonce(nonce, index), _b64(message.attributes[name]), name.encode()).decode(
                    "utf-8", "surrogatepass"
                )
                for index, name in enumerate(names, start=1)
            }
        except (self._invalid_tag, binascii.Error, ValueError):
            raise IntegrityError(
                f"message {message.id} failed authentication: a wrong key, or a tampered body or attribute",
                key_id=key_id,
                check="message",
                operation="receive",
            ) from None
        return replace(message, body=body, attributes=attributes)

    def send(
        self,
        body: bytes,
        *,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        delay: float = 0.0,
        timeout: float | None = None,
    ) -> MessageId:
        sealed, sealed_attributes = self._seal(body, attributes, dedup_id, delay)
        return self._inner.send(sealed, attributes=sealed_attributes, dedup_id=dedup_id, delay=delay, timeout=timeout)

    def send_batch(self, messages: Iterable[OutgoingMessage], *, timeout: float | None = None) -> Sequence[SendResult]:
        results: list[SendResult | None] = []
        outgoing: list[OutgoingMessage] = []
        for message in check_batch(messages, timeout):
            try:
                sealed, sealed_attributes = self._seal(
                    message.body, message.attributes, message.dedup_id, message.delay
                )
            except InvalidRequest as error:
                results.append(SendResult(error=error))
                continue
            results.append(None)
            outgoing.append(replace(message, body=sealed, attributes=sealed_attributes))
        sent = iter(self._inner.send_batch(outgoing, timeout=timeout) if outgoing else ())
        return [result if result is not None else next(sent) for result in results]

    def receive(
        self,
        max_messages: int = 1,
        *,
        wait: float = 0.0,
        visibility: float | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        received = self._inner.receive(max_messages, wait=wait, visibility=visibility, timeout=timeout)
        opened = []
        for message in received:
            try:
                opened.append(self._open(message))
            except IntegrityError as error:
                if self._on_integrity_error is None:
                    raise
                self._on_integrity_error(message, error)
        return opened

    def ack(self, message: Message, *, timeout: float | None = None) -> None:
        self._inner.ack(message, timeout=timeout)

    def nack(self, message: Message, *, delay: float = 0.0, timeout: float | None = None) -> None:
        self._inner.nack(message, delay=delay, timeout=timeout)

    def extend(self, message: Message, visibility: float, *, timeout: float | None = None) -> None:
        self._inner.extend(message, visibility, timeout=timeout)

    def close(self) -> None:
        self._inner.close()


def _nonce(nonce: bytes, index: int) -> bytes:
    return nonce[:8] + struct.pack(">I", index)


def _names_ad(names: Sequence[str]) -> bytes:
    return b"\x00" + "\x00".join(names).encode()


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

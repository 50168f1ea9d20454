"""`EncryptedStorage`: an `ObjectStore` whose every copy, on every provider, is ciphertext.

Put it over a `FailoverStorage`: each object is encrypted once, in the application, and the same
ciphertext is replicated to every cloud; the sha256 that replication compares is the ciphertext's.
The format is in `failover.crypto._format`; memory stays bounded whatever the object's size: a put
from a stream seals one segment (64 KiB) at a time, a get opens a batch of four (`_opening`). A put
of bytes the caller holds is sealed whole into one buffer beside them (`_stream.SealedBody`).

What differs from a plain store, each declared in `capabilities` or documented here:

- ``copy`` reads, decrypts and writes again (the object key is bound into the ciphertext), so
  ``server_side_copy`` is False;
- the header takes room in the provider's metadata, so the caller's metadata is limited to what still
  fits once sealed (`InvalidRequest` with rule ``metadata.max_size`` otherwise);
- ``list`` reports plaintext sizes; its entries carry no metadata, content type or sha256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import BinaryIO, Literal, cast

from failover._streams import PreparedBody, prepare_body
from failover.crypto._format import (
    CIPHER_SEGMENT,
    HEADER_NAME,
    SEGMENT_SIZE,
    Header,
    ObjectKeys,
    Sealed,
    plaintext_size,
    segment_count,
)
from failover.crypto._opening import open_range
from failover.crypto._stream import EncryptingStream, SealedBody
from failover.crypto.keys import Keyring
from failover.errors import IntegrityError, InvalidRequest
from failover.interfaces import Capabilities, Data, ListEntry, ObjectInfo, ObjectReader, ObjectStore
from failover.keys import (
    MAX_METADATA_BYTES,
    validate_body,
    validate_byte_range,
    validate_content_type,
    validate_key,
    validate_metadata,
    validate_size,
    validate_timeout,
)

__all__ = ["EncryptedStorage"]

# A body held in memory from this size on is hashed in the worker thread while it is sealed (sha256
# releases the GIL; AES-GCM does not): below it, a thread's round trip costs more than it saves.
_HASH_AHEAD = 1024 * 1024


class EncryptedStorage:
    """An `ObjectStore` over ``store`` that encrypts under ``keys.active`` and reads under any key."""

    def __init__(self, store: ObjectStore, keys: Keyring) -> None:
        from failover.crypto._aead import load_aead

        load_aead("EncryptedStorage")  # fail at construction, naming the extra, not at the first put
        self._inner = store
        self._keys = keys
        # One worker, started on the first large put: it hashes the plaintext while this thread seals it.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="failover-crypto")
        inner = store.capabilities
        self._capabilities = replace(
            inner,
            max_object_size=inner.max_object_size // CIPHER_SEGMENT * SEGMENT_SIZE,
            server_side_copy=False,
        )

    @property
    def name(self) -> str:
        return self._inner.name  # the same bucket, seen in plaintext

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def inner(self) -> ObjectStore:
        """The store that holds the ciphertext."""
        return self._inner

    @property
    def keyring(self) -> Keyring:
        return self._keys

    def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: Literal["*"] | None = None,
        if_match: str | None = None,
        timeout: float | None = None,
    ) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(key)
        validate_body(data)
        user = validate_metadata(metadata)
        validate_content_type(content_type)
        in_memory: bytes | None = None
        body: PreparedBody | None = None
        hashing: Future[str] | None = None
        if isinstance(data, bytes | bytearray | memoryview):
            # The caller holds it whole: seal it whole, once (a stream is sealed segment by segment, on
            # each of the store's reads, so that memory stays bounded whatever its size).
            in_memory = bytes(data)
            size = validate_size(len(in_memory), self._capabilities.max_object_size, self.provider)
            if size >= _HASH_AHEAD:
                hashing = self._hash_ahead(in_memory)
            sha256 = "" if hashing is not None else hashlib.sha256(in_memory).hexdigest()
        else:
            body = prepare_body(data, max_size=self._capabilities.max_object_size, provider=self.provider)
            size, sha256 = body.size, body.sha256
        try:
            provider = self._keys.active
            data_key = provider.new_data_key()
            salt, prefix = Header.fresh_salt()
            keys = ObjectKeys(data_key.plaintext, salt=salt, prefix=prefix, key=key, key_id=provider.key_id)
            payload: Data
            if body is None:
                assert in_memory is not None
                payload = cast(BinaryIO, SealedBody(in_memory, keys))  # sealed while the worker hashes
                if hashing is not None:
                    sha256 = hashing.result()
            else:
                payload = cast(BinaryIO, EncryptingStream(body.stream, size, keys))
            unsealed = Header(salt, prefix, provider.key_id, data_key.wrapped, b"")
            sealed = Sealed(size, sha256, content_type, user)
            header = replace(unsealed, sealed=keys.seal_header(unsealed.clear_part(), sealed))
            stored = {HEADER_NAME: header.encode()}
            _check_header_fits(stored, key)
            info = self._inner.put(
                key,
                payload,
                metadata=stored,
                if_none_match=if_none_match,
                if_match=if_match,
                timeout=timeout,
            )
        finally:
            if body is not None:
                body.close()
        return _plain_info(info, sealed)

    def _hash_ahead(self, plaintext: bytes) -> Future[str]:
        try:
            return self._worker.submit(lambda: hashlib.sha256(plaintext).hexdigest())
        except RuntimeError:  # closed: hash here
            done: Future[str] = Future()
            done.set_result(hashlib.sha256(plaintext).hexdigest())
            return done

    def _open(self, info: ObjectInfo) -> tuple[ObjectKeys, Sealed, int]:
        """The object's keys, its sealed header and its segment count; `IntegrityError` if any check fails."""
        text = info.metadata.get(HEADER_NAME)
        if text is None:
            raise IntegrityError(
                "the object has no encryption header: it was not written encrypted", check="header", key=info.key
            )
        header = Header.decode(text, key=info.key)
        provider = self._keys.get(header.key_id, key=info.key)
        data_key = provider.unwrap(header.wrapped)
        keys = ObjectKeys(data_key, salt=header.salt, prefix=header.prefix, key=info.key, key_id=header.key_id)
        sealed = keys.open_header(header)
        if plaintext_size(info.size) != sealed.size:
            raise IntegrityError(
                f"the object holds {info.size} bytes of ciphertext, not the {sealed.size} bytes of plaintext"
                " it was written with: truncated or extended",
                key_id=header.key_id,
                check="size",
                key=info.key,
            )
        return keys, sealed, segment_count(sealed.size)

    def get(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> ObjectReader:
        validate_timeout(timeout)
        validate_key(key)
        start, stop = validate_byte_range(byte_range) or (0, None)
        first = start // SEGMENT_SIZE
        inner_stop = None if stop is None else -(-stop // SEGMENT_SIZE) * CIPHER_SEGMENT
        inner_range = None if first == 0 and inner_stop is None else (first * CIPHER_SEGMENT, inner_stop)
        reader = self._inner.get(key, byte_range=inner_range, timeout=timeout)
        try:
            keys, sealed, count = self._open(reader.info)
        except BaseException:
            reader.close()
            raise
        end = sealed.size if stop is None else min(stop, sealed.size)
        chunks = open_range(
            keys,
            iter(reader),
            first=first,
            count=count,
            ciphertext=reader.info.size,
            start=start,
            stop=end,
        )
        return ObjectReader(_plain_info(reader.info, sealed), chunks, close=reader.close)

    def get_bytes(
        self,
        key: str,
        *,
        byte_range: tuple[int, int | None] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        with self.get(key, byte_range=byte_range, timeout=timeout) as reader:
            return reader.read()

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        info = self._inner.head(key, timeout=timeout)
        _, sealed, _ = self._open(info)
        return _plain_info(info, sealed)

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        validate_timeout(timeout)
        self._inner.delete(key, if_match=if_match, timeout=timeout)

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        validate_timeout(timeout)
        return self._plain_entries(self._inner.list(prefix, delimiter=delimiter, timeout=timeout))

    def _plain_entries(self, entries: Iterator[ListEntry]) -> Iterator[ListEntry]:
        for entry in entries:
            if isinstance(entry, ObjectInfo):
                size = plaintext_size(entry.size)
                # A size no ciphertext of ours has (a plaintext object): listed as it is; head and get refuse it.
                entry = replace(
                    entry, size=entry.size if size is None else size, metadata={}, content_type=None, sha256=None
                )
            yield entry

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        validate_timeout(timeout)
        validate_key(dst)
        with self.get(src, timeout=timeout) as reader:
            return self.put(
                dst,
                cast(BinaryIO, reader),
                content_type=reader.info.content_type,
                metadata=reader.info.metadata,
                timeout=timeout,
            )

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._inner.close()


def _plain_info(info: ObjectInfo, sealed: Sealed) -> ObjectInfo:
    return replace(
        info, size=sealed.size, content_type=sealed.content_type, metadata=dict(sealed.metadata), sha256=sealed.sha256
    )


def _check_header_fits(stored: Mapping[str, str], key: str) -> None:
    used = sum(len(name) + len(value) for name, value in stored.items())
    if used > MAX_METADATA_BYTES:
        raise InvalidRequest(
            f"the caller's metadata, sealed, takes {used} of the {MAX_METADATA_BYTES} bytes of metadata a provider"
            " keeps: send less [metadata.max_size; S3, once sealed by failover.crypto]",
            rule="metadata.max_size",
            imposed_by="S3",
            key=key,
        )

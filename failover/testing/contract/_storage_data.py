"""The object-store contract, part one: bytes in, the same bytes out."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

import pytest

from failover.interfaces import ObjectInfo, ObjectStore
from failover.testing.contract._support import generated_sha256, generated_stream, non_seekable

__all__ = ["StorageDataContract"]

MiB = 1024 * 1024
ALL_BYTES = bytes(range(256))
TEN = b"0123456789"


class StorageDataContract:
    """Round trips, streaming, large bodies and byte ranges."""

    large_object_size = 64 * MiB
    # Python memory a put and a streaming get of the large object may use beyond what the store keeps.
    large_object_peak_limit = 24 * MiB

    def test_empty_object_round_trips(self, store: ObjectStore) -> None:
        info = store.put("empty", b"")
        assert info.size == 0, f"put of b'' reported size {info.size}"
        assert store.get_bytes("empty") == b"", "an empty object came back non-empty"
        assert store.head("empty").size == 0, "head of an empty object reports a non-zero size"

    def test_every_byte_value_round_trips(self, store: ObjectStore) -> None:
        body = ALL_BYTES * 4
        store.put("binary", body)
        assert store.get_bytes("binary") == body, "some byte values were altered on the way (encoding?)"

    def test_large_object_streams_both_ways_in_bounded_memory(self, store: ObjectStore) -> None:
        size = self.large_object_size
        tracing_before = tracemalloc.is_tracing()
        if not tracing_before:
            tracemalloc.start()
        tracemalloc.reset_peak()
        try:
            info = store.put("large", generated_stream(size, seed=64))
            digest = hashlib.sha256()
            received = 0
            with store.get("large") as reader:
                for chunk in reader:
                    digest.update(chunk)
                    received += len(chunk)
            held, peak = tracemalloc.get_traced_memory()
        finally:
            if not tracing_before:
                tracemalloc.stop()
        assert info.size == size, f"put reported {info.size} bytes, sent {size}"
        assert received == size, f"streamed back {received} bytes, sent {size}"
        assert digest.hexdigest() == generated_sha256(size, seed=64), "the large object came back altered"
        # A store that keeps the bytes in this process (the memory adapter) holds them afterwards; only
        # what rose above that was buffering.
        buffered = peak - held
        assert buffered < self.large_object_peak_limit, (
            f"{size // MiB} MiB put and read back buffered {buffered / MiB:.1f} MiB of Python memory at peak:"
            " the body is not streamed"
        )

    def test_metadata_and_content_type_round_trip(self, store: ObjectStore) -> None:
        metadata = {"owner": "team-a", "reviewed_by": "J. Doe <j@example.com>", "n2": "42"}
        put = store.put("meta", b"x", content_type="application/x-ndjson", metadata=metadata)
        head = store.head("meta")
        assert dict(put.metadata) == metadata, f"put returned metadata {dict(put.metadata)}"
        assert dict(head.metadata) == metadata, f"head returned metadata {dict(head.metadata)}"
        assert head.content_type == "application/x-ndjson", f"content type came back as {head.content_type!r}"
        assert head.size == 1
        assert head.etag, "head returned no etag"
        assert head.last_modified is not None, "head returned no last_modified"

    def test_sha256_in_put_and_head_equals_hashlib(self, store: ObjectStore) -> None:
        body = b"checksum me" * 100
        expected = hashlib.sha256(body).hexdigest()
        assert store.put("sum", body).sha256 == expected, "put reported a wrong sha256"
        assert store.head("sum").sha256 == expected, "head reported a wrong sha256"

    def test_object_info_provider_is_the_store_provider(self, store: ObjectStore) -> None:
        put = store.put("dir/who", b"x")
        listed = [entry for entry in store.list("dir/") if isinstance(entry, ObjectInfo)]
        with store.get("dir/who") as reader:
            got = reader.info
        providers = {put.provider, store.head("dir/who").provider, got.provider}
        providers.update(entry.provider for entry in listed)
        assert providers == {store.provider}, f"ObjectInfo.provider values {providers}, store says {store.provider!r}"

    def test_overwrite_replaces_bytes_and_metadata(self, store: ObjectStore) -> None:
        store.put("over", b"first version", metadata={"v": "1"}, content_type="text/plain")
        store.put("over", b"second", metadata={"w": "2"})
        head = store.head("over")
        assert store.get_bytes("over") == b"second", "overwrite kept the old bytes"
        assert dict(head.metadata) == {"w": "2"}, f"overwrite left metadata {dict(head.metadata)}"
        assert head.size == 6

    @pytest.mark.parametrize(
        ("byte_range", "expected"),
        [
            pytest.param((0, 1), b"0", id="first-byte"),
            pytest.param((9, 10), b"9", id="last-byte"),
            pytest.param((3, 7), b"3456", id="middle"),
            pytest.param((4, None), b"456789", id="open-ended"),
            pytest.param((8, 100), b"89", id="stop-past-end"),
            pytest.param((10, None), b"", id="start-at-end"),
            pytest.param((25, 30), b"", id="start-past-end"),
        ],
    )
    def test_byte_range_reads_the_python_slice(
        self, store: ObjectStore, byte_range: tuple[int, int | None], expected: bytes
    ) -> None:
        store.put("digits", TEN)
        got = store.get_bytes("digits", byte_range=byte_range)
        assert got == expected, f"range {byte_range} of {TEN!r} returned {got!r}, expected {expected!r}"
        with store.get("digits", byte_range=byte_range) as reader:
            streamed = reader.read()
        assert streamed == expected, f"streamed range {byte_range} returned {streamed!r}"

    def test_get_is_a_context_manager_iterating_chunks(self, store: ObjectStore) -> None:
        body = bytes(range(256)) * 1024
        store.put("chunks", body)
        with store.get("chunks") as reader:
            chunks = list(reader)
        assert reader.closed, "leaving the with block did not close the reader"
        assert all(chunks), "iteration yielded an empty chunk"
        assert b"".join(chunks) == body, "chunks do not join to the object"

    def test_read_n_returns_the_object_in_pieces(self, store: ObjectStore) -> None:
        body = ALL_BYTES * 10
        store.put("pieces", body)
        with store.get("pieces") as reader:
            pieces = [reader.read(1), reader.read(100), reader.read(1000), reader.read(10_000), reader.read(1)]
        assert [len(piece) for piece in pieces] == [1, 100, 1000, 1459, 0], "read(n) returned wrong lengths"
        assert b"".join(pieces) == body, "read(n) pieces do not join to the object"

    def test_put_from_seekable_file_uploads_from_its_position(self, store: ObjectStore) -> None:
        source = io.BytesIO(b"HEADER--payload bytes")
        source.seek(8)
        info = store.put("window", source)
        assert store.get_bytes("window") == b"payload bytes", "the bytes before the file's position were uploaded"
        assert info.size == 13
        assert info.sha256 == hashlib.sha256(b"payload bytes").hexdigest()

    def test_put_from_non_seekable_stream(self, store: ObjectStore) -> None:
        body = ALL_BYTES * 1000
        chunks = iter([body[i : i + 4096] for i in range(0, len(body), 4096)])
        info = store.put("stream", non_seekable(chunks))
        assert info.size == len(body), f"put from a stream reported {info.size} bytes"
        assert store.get_bytes("stream") == body, "a non-seekable stream was uploaded altered"

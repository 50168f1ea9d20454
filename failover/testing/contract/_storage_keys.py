"""The object-store contract, part two: keys, listing, copy, delete and conditional writes."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import pytest

from failover.errors import InvalidRequest, NotFound, PreconditionFailed
from failover.interfaces import CommonPrefix, ListEntry, ObjectInfo, ObjectStore
from failover.testing.contract._support import generated_stream

__all__ = ["StorageKeysContract"]

MiB = 1024 * 1024


def _names(entries: Iterable[ListEntry]) -> list[str]:
    return sorted(entry.key if isinstance(entry, ObjectInfo) else f"<{entry.prefix}>" for entry in entries)


class StorageKeysContract:
    """Where objects live and how they are found, replaced, copied and removed."""

    listing_keys = 1100  # more than one page of every provider (S3 and Azure page at 1,000, GCS at 1,000)
    # Larger than every adapter's single-request threshold, so the chunked upload path is taken.
    large_condition_size = 9 * MiB

    def test_head_of_missing_key_raises_not_found(self, store: ObjectStore) -> None:
        with pytest.raises(NotFound):
            store.head("missing")

    def test_get_of_missing_key_raises_not_found(self, store: ObjectStore) -> None:
        with pytest.raises(NotFound):
            store.get("missing")
        with pytest.raises(NotFound):
            store.get_bytes("missing")

    def test_delete_of_missing_key_succeeds(self, store: ObjectStore) -> None:
        store.delete("never/written")

    def test_delete_removes_the_object(self, store: ObjectStore) -> None:
        store.put("doomed", b"x")
        store.delete("doomed")
        with pytest.raises(NotFound):
            store.get_bytes("doomed")
        with pytest.raises(NotFound):
            store.head("doomed")
        assert _names(store.list("doomed")) == [], "a deleted key is still listed"

    def test_list_of_empty_store_is_empty(self, store: ObjectStore) -> None:
        assert list(store.list()) == [], "a fresh store lists objects"

    def test_list_with_delimiter_rolls_up_nested_prefixes(self, store: ObjectStore) -> None:
        for key in ("a/1", "a/b/2", "a/b/c/3", "a/c/4", "x/5", "top"):
            store.put(key, b"k")
        assert _names(store.list("a/", delimiter="/")) == ["<a/b/>", "<a/c/>", "a/1"], "delimited listing of a/"
        assert _names(store.list("", delimiter="/")) == ["<a/>", "<x/>", "top"], "delimited listing of the root"
        assert _names(store.list("a/b/", delimiter="/")) == ["<a/b/c/>", "a/b/2"], "delimited listing of a/b/"
        assert all(isinstance(entry, CommonPrefix | ObjectInfo) for entry in store.list("", delimiter="/"))

    def test_list_with_prefix_only_returns_every_key_under_it(self, store: ObjectStore) -> None:
        for key in ("a/1", "a/b/2", "a/b/c/3", "ab", "x/5"):
            store.put(key, b"k")
        assert _names(store.list("a/")) == ["a/1", "a/b/2", "a/b/c/3"], "prefix listing of a/"
        assert _names(store.list("a")) == ["a/1", "a/b/2", "a/b/c/3", "ab"], "a prefix is not a folder"
        assert _names(store.list()) == ["a/1", "a/b/2", "a/b/c/3", "ab", "x/5"], "listing of everything"
        sizes = {entry.key: entry.size for entry in store.list() if isinstance(entry, ObjectInfo)}
        assert set(sizes.values()) == {1}, f"listed sizes {sizes}"

    def test_list_pages_through_more_keys_than_one_page(self, store: ObjectStore) -> None:
        keys = [f"many/{index:05d}" for index in range(self.listing_keys)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda key: store.put(key, b"."), keys))
        listed = [entry.key for entry in store.list("many/") if isinstance(entry, ObjectInfo)]
        assert len(listed) == len(set(listed)), f"{len(listed) - len(set(listed))} keys listed twice across pages"
        missing = sorted(set(keys) - set(listed))
        assert not missing, f"{len(missing)} of {len(keys)} keys not listed, first {missing[:3]}"

    def test_copy_keeps_bytes_content_type_and_metadata(self, store: ObjectStore) -> None:
        store.put("src", b"copied bytes", content_type="text/csv", metadata={"origin": "src"})
        info = store.copy("src", "dst/copy")
        head = store.head("dst/copy")
        assert info.key == "dst/copy", f"copy returned info for {info.key!r}"
        assert store.get_bytes("dst/copy") == b"copied bytes", "the copy's bytes differ"
        assert dict(head.metadata) == {"origin": "src"}, f"the copy's metadata is {dict(head.metadata)}"
        assert head.content_type == "text/csv", f"the copy's content type is {head.content_type!r}"
        assert head.sha256 == store.head("src").sha256, "the copy's sha256 differs from the source's"
        assert store.get_bytes("src") == b"copied bytes", "copy changed the source"

    def test_copy_of_missing_key_raises_not_found(self, store: ObjectStore) -> None:
        with pytest.raises(NotFound):
            store.copy("missing", "dst")

    def test_conditional_create_succeeds_when_key_is_absent(self, store: ObjectStore) -> None:
        if not store.capabilities.conditional_create:
            with pytest.raises(InvalidRequest):
                store.put("fresh", b"new", if_none_match="*")
            return
        info = store.put("fresh", b"new", if_none_match="*")
        assert info.etag, "a conditional create returned no etag"
        assert store.get_bytes("fresh") == b"new"

    def test_conditional_create_fails_when_key_is_present(self, store: ObjectStore) -> None:
        store.put("taken", b"first")
        expected = PreconditionFailed if store.capabilities.conditional_create else InvalidRequest
        with pytest.raises(expected):
            store.put("taken", b"second", if_none_match="*")
        assert store.get_bytes("taken") == b"first", "a failed conditional create overwrote the object"

    def test_conditional_update_succeeds_with_current_etag(self, store: ObjectStore) -> None:
        first = store.put("doc", b"v1")
        assert first.etag, "put returned no etag to update against"
        if not store.capabilities.conditional_update:
            with pytest.raises(InvalidRequest):
                store.put("doc", b"v2", if_match=first.etag)
            return
        second = store.put("doc", b"v2", if_match=first.etag)
        assert store.get_bytes("doc") == b"v2", "a conditional update with the current etag did not write"
        assert second.etag != first.etag, "a new version kept the old etag"
        assert store.head("doc").etag == second.etag, "head's etag is not the one put returned"

    def test_conditional_update_fails_with_stale_etag(self, store: ObjectStore) -> None:
        stale = store.put("doc", b"v1").etag
        store.put("doc", b"v2")
        assert stale, "put returned no etag"
        expected = PreconditionFailed if store.capabilities.conditional_update else InvalidRequest
        with pytest.raises(expected):
            store.put("doc", b"v3", if_match=stale)
        assert store.get_bytes("doc") == b"v2", "a conditional update with a stale etag wrote"

    def test_conditional_create_holds_for_large_objects(self, store: ObjectStore) -> None:
        store.put("big", b"small original")
        capable = store.capabilities.conditional_create and store.capabilities.conditional_large_writes
        with pytest.raises(PreconditionFailed if capable else InvalidRequest):
            store.put("big", generated_stream(self.large_condition_size), if_none_match="*")
        assert store.get_bytes("big") == b"small original", "a large conditional create overwrote the object"

    def test_conditional_update_holds_for_large_objects(self, store: ObjectStore) -> None:
        stale = store.put("big", b"v1").etag
        store.put("big", b"v2")
        assert stale, "put returned no etag"
        capable = store.capabilities.conditional_update and store.capabilities.conditional_large_writes
        with pytest.raises(PreconditionFailed if capable else InvalidRequest):
            store.put("big", generated_stream(self.large_condition_size), if_match=stale)
        assert store.get_bytes("big") == b"v2", "a large conditional update with a stale etag wrote"

    def test_conditional_delete_with_a_stale_etag_spares_the_newer_version(self, store: ObjectStore) -> None:
        stale = store.put("doc", b"v1").etag
        store.put("doc", b"v2")
        expected = PreconditionFailed if store.capabilities.conditional_delete else InvalidRequest
        with pytest.raises(expected):
            store.delete("doc", if_match=stale)
        assert store.get_bytes("doc") == b"v2", "a delete conditional on a replaced version deleted the new one"

    def test_conditional_delete_with_the_current_etag_deletes(self, store: ObjectStore) -> None:
        current = store.put("doc", b"v1").etag
        assert current, "put returned no etag"
        if not store.capabilities.conditional_delete:
            with pytest.raises(InvalidRequest):  # refused, never ignored
                store.delete("doc", if_match=current)
            return
        store.delete("doc", if_match=current)
        with pytest.raises(NotFound):
            store.head("doc")
        store.delete("doc", if_match=current)  # already gone: done, like any delete of a missing key

    def test_unicode_keys_at_the_1024_byte_limit_round_trip(self, store: ObjectStore) -> None:
        keys = ["é" * 512, "€" * 341 + "a", "😀" * 256, "dir/" + "ü" * 510]
        for key in keys:
            assert len(key.encode()) == 1024, "test bug: the key is not 1,024 bytes"
            store.put(key, key.encode())
        for key in keys:
            assert store.get_bytes(key) == key.encode(), f"key of {key[0]!r} x {len(key)} did not round trip"
        assert _names(store.list()) == sorted(keys), "1,024-byte keys are listed differently"
        with pytest.raises(InvalidRequest):
            store.put("é" * 512 + "a", b"x")

    @pytest.mark.parametrize(
        "key",
        [
            "with space.txt",
            "plus+sign",
            "percent%20literal",
            "hash#tag",
            "question?mark=1&b=2",
            "emoji/😀 face.png",
            "semi;colon,comma:colon@at",
            "tilde~star*quote'paren()[brackets]{braces}",
            "dir with space/x+y%2Fz",
        ],
    )
    def test_keys_with_url_significant_characters_round_trip(self, store: ObjectStore, key: str) -> None:
        store.put(key, b"odd", metadata={"k": "v"})
        assert store.get_bytes(key) == b"odd", f"{key!r} did not round trip"
        assert store.head(key).key == key, f"head of {key!r} named another key"
        listed = _names(store.list())
        assert listed == [key], f"{key!r} was listed as {listed}"
        copied = store.copy(key, key + " copy")
        assert copied.key == key + " copy"
        store.delete(key)
        with pytest.raises(NotFound):
            store.head(key)

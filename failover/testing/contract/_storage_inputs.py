"""The object-store contract, part three: what a store must refuse, and that it refuses nothing else."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover.errors import InvalidRequest, NotFound
from failover.interfaces import ObjectInfo, ObjectStore
from failover.keys import (
    MAX_METADATA_BYTES,
    MAX_USER_METADATA_BYTES,
    metadata_size,
    validate_key,
    validate_metadata,
)

__all__ = ["StorageInputsContract"]

BAD_KEYS = [
    pytest.param("", id="empty"),
    pytest.param("/leading-slash", id="leading-slash"),
    pytest.param("a//b", id="double-slash"),
    pytest.param("trailing/", id="trailing-slash"),
    pytest.param("trailing.", id="trailing-dot"),
    pytest.param("./x", id="dot-segment"),
    pytest.param("a/../b", id="dot-dot-segment"),
    pytest.param("nul\x00byte", id="nul"),
    pytest.param("new\nline", id="newline"),
    pytest.param("del\x7f", id="del"),
    pytest.param("back\\slash", id="backslash"),
    pytest.param("x" * 1025, id="1025-bytes"),
    pytest.param("\ud800", id="lone-surrogate"),
    pytest.param("non\ufffecharacter", id="fffe"),
    pytest.param("non\uffffcharacter", id="ffff"),
    pytest.param("non\ufdd0character", id="fdd0"),
    pytest.param(b"bytes-key", id="bytes"),
]

BAD_METADATA = [
    pytest.param({"Upper": "x"}, id="uppercase-name"),
    pytest.param({"has-dash": "x"}, id="dash-in-name"),
    pytest.param({"1digit": "x"}, id="name-starts-with-digit"),
    pytest.param({"": "x"}, id="empty-name"),
    pytest.param({"failover_mine": "x"}, id="reserved-name"),
    pytest.param({"failover_sha256": "0" * 64}, id="reserved-sha256"),
    pytest.param({"n": "café"}, id="non-ascii-value"),
    pytest.param({"n": "tab\there"}, id="control-in-value"),
    pytest.param({"n": " padded"}, id="leading-space"),
    pytest.param({"n": "x" * 2048}, id="too-large"),
    pytest.param({"n": "x" * MAX_USER_METADATA_BYTES}, id="no-room-for-the-librarys-own"),
    pytest.param({"n": 1}, id="non-str-value"),
]

BAD_RANGES = [
    pytest.param((-1, 5), id="negative-start"),
    pytest.param((5, 5), id="empty"),
    pytest.param((5, 2), id="reversed"),
    pytest.param((1.5, 3), id="float"),
    pytest.param([0, 1], id="list"),
    pytest.param((0,), id="one-element"),
    pytest.param((True, None), id="bool-start"),
    pytest.param((0, True), id="bool-stop"),
    pytest.param((0, -1), id="negative-stop"),
]

BAD_TIMEOUTS = [
    pytest.param("3", id="str"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(-1.0, id="negative"),
    pytest.param(0, id="zero"),
    pytest.param(True, id="bool"),
]

BAD_BODIES = [
    pytest.param("text", id="str"),
    pytest.param(None, id="none"),
    pytest.param(3, id="int"),
    pytest.param([b"x"], id="list"),
    pytest.param(io.StringIO("text"), id="text-stream"),
]
# The longest version stamp the failover layer writes (a 64-character writer id).
_LONGEST_STAMP = "0" * 12 + "-" + "0" * 6 + "-" + "w" * 64

BAD_CONTENT_TYPES = [
    pytest.param("", id="empty"),
    pytest.param("täxt/plain", id="non-ascii"),
    pytest.param("text/plain\r\nX-Injected: 1", id="header-injection"),
    pytest.param("x/" + "y" * 254, id="too-long"),
]

# Keys drawn from every code point, weighted towards the characters the rules are about.
_KEY_CHARS = st.one_of(st.sampled_from("/.\\ +%#?~:-_"), st.characters(codec="utf-8"), st.characters(max_codepoint=127))
_NAMES = st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True), st.text(max_size=8))
_VALUES = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40), st.text(max_size=8))


class StorageInputsContract:
    """Every invalid input raises `InvalidRequest` before anything is stored; every valid one round trips."""

    property_examples = 25

    @pytest.mark.parametrize(
        ("prefix", "delimiter"),
        [
            pytest.param(7, None, id="prefix-int"),
            pytest.param(None, None, id="prefix-none"),
            pytest.param(b"a/", None, id="prefix-bytes"),
            pytest.param("p" * 1025, None, id="prefix-too-long"),
            pytest.param("a/", "", id="delimiter-empty"),
            pytest.param("a/", 5, id="delimiter-int"),
        ],
    )
    def test_invalid_listing_is_refused_before_the_store_is_called(
        self, store: ObjectStore, prefix: Any, delimiter: Any
    ) -> None:
        # One rule on every store (keys.validate_listing), raised when list is called, not when iterated.
        with pytest.raises(InvalidRequest):
            store.list(prefix, delimiter=delimiter)

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_invalid_key_is_refused_by_every_operation(self, store: ObjectStore, key: Any) -> None:
        calls: dict[str, Callable[[], object]] = {
            "put": lambda: store.put(key, b"x"),
            "get": lambda: store.get(key),
            "get_bytes": lambda: store.get_bytes(key),
            "head": lambda: store.head(key),
            "delete": lambda: store.delete(key),
            "copy from": lambda: store.copy(key, "ok"),
            "copy to": lambda: store.copy("ok", key),
        }
        store.put("ok", b"x")
        accepted = []
        for operation, call in calls.items():
            try:
                call()
            except InvalidRequest:
                continue
            accepted.append(operation)
        assert not accepted, f"{accepted} accepted the invalid key {key!r}"

    @pytest.mark.parametrize("timeout", BAD_TIMEOUTS)
    def test_invalid_timeout_is_refused_by_every_operation(self, store: ObjectStore, timeout: Any) -> None:
        calls: dict[str, Callable[[], object]] = {
            "put": lambda: store.put("t", b"x", timeout=timeout),
            "get": lambda: store.get("ok", timeout=timeout),
            "get_bytes": lambda: store.get_bytes("ok", timeout=timeout),
            "head": lambda: store.head("ok", timeout=timeout),
            "delete": lambda: store.delete("ok", timeout=timeout),
            "list": lambda: store.list("", timeout=timeout),
            "copy": lambda: store.copy("ok", "t", timeout=timeout),
        }
        store.put("ok", b"x")
        accepted = []
        for operation, call in calls.items():
            try:
                call()
            except InvalidRequest:
                continue
            accepted.append(operation)
        assert not accepted, f"{accepted} accepted the timeout {timeout!r}"
        assert store.get_bytes("ok") == b"x"
        with pytest.raises(NotFound):
            store.head("t")

    @pytest.mark.parametrize("body", BAD_BODIES)
    def test_invalid_body_is_refused_and_nothing_stored(self, store: ObjectStore, body: Any) -> None:
        with pytest.raises(InvalidRequest):
            store.put("body", body)
        with pytest.raises(NotFound):
            store.head("body")

    def test_metadata_at_the_limit_with_the_longest_stamp_is_stored_within_the_providers_limit(
        self, store: ObjectStore
    ) -> None:
        # What FailoverStorage accepts from a caller, plus the stamp it adds, plus the sha256 the
        # adapter adds: the store takes it, and all of it fits S3's 2 KB as counted on the wire.
        limit = MAX_USER_METADATA_BYTES

        @settings(
            max_examples=max(3, self.property_examples // 5),
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(cuts=st.lists(st.integers(min_value=1, max_value=limit), max_size=6))
        def check(cuts: list[int]) -> None:
            user = _metadata_of_size(limit, cuts)
            assert metadata_size(user) == limit
            # The failover layer writes its own stamp (and refuses one from its caller).
            stamp = {} if store.provider == "failover" else {"failover_version": _LONGEST_STAMP}
            store.put("meta-limit", b"x", metadata={**user, **stamp})
            head = store.head("meta-limit")
            assert dict(head.metadata) == user
            assert head.version is not None
            assert head.sha256 is not None
            sent = {**head.metadata, "failover_version": head.version or "", "failover_sha256": head.sha256 or ""}
            assert metadata_size(sent) <= MAX_METADATA_BYTES

        check()

    @pytest.mark.parametrize("metadata", BAD_METADATA)
    def test_invalid_metadata_is_refused_and_nothing_stored(self, store: ObjectStore, metadata: Any) -> None:
        with pytest.raises(InvalidRequest):
            store.put("meta", b"x", metadata=metadata)
        with pytest.raises(NotFound):
            store.head("meta")

    @pytest.mark.parametrize("byte_range", BAD_RANGES)
    def test_invalid_byte_range_is_refused(self, store: ObjectStore, byte_range: Any) -> None:
        store.put("ranged", b"0123456789")
        with pytest.raises(InvalidRequest):
            store.get_bytes("ranged", byte_range=byte_range)
        with pytest.raises(InvalidRequest):
            store.get("ranged", byte_range=byte_range)

    @pytest.mark.parametrize("content_type", BAD_CONTENT_TYPES)
    def test_invalid_content_type_is_refused(self, store: ObjectStore, content_type: str) -> None:
        with pytest.raises(InvalidRequest):
            store.put("typed", b"x", content_type=content_type)
        with pytest.raises(NotFound):
            store.head("typed")

    @pytest.mark.parametrize(
        "conditions",
        [
            pytest.param({"if_none_match": "etag"}, id="if-none-match-not-star"),
            pytest.param({"if_match": ""}, id="empty-if-match"),
            pytest.param({"if_none_match": "*", "if_match": '"1"'}, id="both-conditions"),
        ],
    )
    def test_invalid_condition_is_refused(self, store: ObjectStore, conditions: dict[str, Any]) -> None:
        with pytest.raises(InvalidRequest):
            store.put("cond", b"x", **conditions)
        with pytest.raises(NotFound):
            store.head("cond")

    def test_what_validation_accepts_round_trips_and_what_it_rejects_is_invalid_request(
        self, store: ObjectStore
    ) -> None:
        # The rules in failover.keys are the common denominator: a store that refused more would
        # make a failover from another provider fail, and one that refused less would accept objects
        # that cannot fail over.
        @settings(
            max_examples=self.property_examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(
            key=st.text(_KEY_CHARS, min_size=1, max_size=30),
            metadata=st.dictionaries(_NAMES, _VALUES, max_size=3),
            body=st.binary(max_size=64),
        )
        def check(key: str, metadata: dict[str, str], body: bytes) -> None:
            try:
                validate_key(key)
                validate_metadata(metadata)
            except InvalidRequest:
                with pytest.raises(InvalidRequest):
                    store.put(key, body, metadata=metadata)
                return
            store.put(key, body, metadata=metadata)
            assert store.get_bytes(key) == body, f"{key!r} came back with other bytes"
            head = store.head(key)
            assert head.key == key, f"head of {key!r} named {head.key!r}"
            assert dict(head.metadata) == metadata, f"{key!r}: metadata {metadata} came back as {dict(head.metadata)}"
            listed = {entry.key for entry in store.list(key) if isinstance(entry, ObjectInfo)}
            assert key in listed, f"{key!r} is not listed under its own prefix (listed: {sorted(listed)[:5]})"

        check()


def _metadata_of_size(total: int, cuts: list[int]) -> dict[str, str]:
    """Entries ``m0``, ``m1``, ... whose names and values add up to exactly ``total`` bytes."""
    sizes: list[int] = []
    left = total
    for index, drawn in enumerate(cuts):
        cut = max(drawn, len(f"m{index}") + 1)  # a name and a value of one character at least
        if left - cut < len(f"m{index + 1}") + 1:
            break
        sizes.append(cut)
        left -= cut
    sizes.append(left)
    metadata: dict[str, str] = {}
    for index, size in enumerate(sizes):
        name = f"m{index}"
        metadata[name] = "v" * (size - len(name))
    return metadata

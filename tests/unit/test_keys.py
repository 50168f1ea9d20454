"""Validation to the common denominator: each rule raises InvalidRequest naming the rule and who imposes it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from failover import keys
from failover.adapters.memory import MemoryStore
from failover.errors import InvalidRequest
from failover.keys import (
    MAX_METADATA_BYTES,
    MAX_USER_METADATA_BYTES,
    RESERVED_METADATA,
    metadata_size,
    validate_body,
    validate_byte_range,
    validate_content_type,
    validate_key,
    validate_metadata,
    validate_size,
    validate_timeout,
)
from failover.storage import FailoverStorage


@pytest.mark.parametrize(
    ("key", "rule", "imposed_by"),
    [
        pytest.param(b"bytes", "key.type", "failover", id="bytes"),
        pytest.param(None, "key.type", "failover", id="none"),
        pytest.param("\udc80", "key.noncharacter", "S3, GCS, Azure", id="lone-surrogate"),
        pytest.param("a\ud800b", "key.noncharacter", "S3, GCS, Azure", id="lone-high-surrogate"),
        pytest.param("a\ufffe", "key.noncharacter", "S3, GCS, Azure", id="fffe"),
        pytest.param("a\uffff", "key.noncharacter", "S3, GCS, Azure", id="ffff"),
        pytest.param("a\ufdd0", "key.noncharacter", "S3, GCS, Azure", id="fdd0"),
        pytest.param("a\ufdef", "key.noncharacter", "S3, GCS, Azure", id="fdef"),
        pytest.param("a\U0010fffe", "key.noncharacter", "S3, GCS, Azure", id="plane-16-fffe"),
        pytest.param("", "key.empty", "S3, GCS, Azure", id="empty"),
        pytest.param("k" * 1025, "key.max_length", "S3, GCS", id="1025-ascii-bytes"),
        pytest.param("é" * 512 + "x", "key.max_length", "S3, GCS", id="1025-utf8-bytes"),
        pytest.param("a\x00b", "key.control_character", "GCS, Azure", id="nul"),
        pytest.param("a\tb", "key.control_character", "GCS, Azure", id="tab"),
        pytest.param("a\x7f", "key.control_character", "GCS, Azure", id="del"),
        pytest.param("a\x85", "key.control_character", "GCS, Azure", id="c1-next-line"),
        pytest.param("a\\b", "key.backslash", "Azure", id="backslash"),
        pytest.param(".", "key.dot_segment", "GCS, Azure", id="dot"),
        pytest.param("a/../b", "key.dot_segment", "GCS, Azure", id="dot-dot-segment"),
        pytest.param("./a", "key.dot_segment", "GCS, Azure", id="leading-dot-segment"),
        pytest.param("/a", "key.empty_segment", "Azure", id="leading-slash"),
        pytest.param("a//b", "key.empty_segment", "Azure", id="double-slash"),
        pytest.param("a/", "key.trailing", "Azure", id="trailing-slash"),
        pytest.param("a.", "key.trailing", "Azure", id="trailing-dot"),
        pytest.param(".well-known/acme-challenge/token", "key.reserved_path", "GCS", id="acme-challenge"),
    ],
)
def test_invalid_key_names_its_rule_and_provider(key: Any, rule: str, imposed_by: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_key(key)
    assert (caught.value.rule, caught.value.imposed_by) == (rule, imposed_by), f"refused as {caught.value!r}"
    assert rule in str(caught.value), "the message does not name the rule"
    assert imposed_by in str(caught.value), "the message does not name who imposes the rule"


@pytest.mark.parametrize(
    "key",
    ["a", "k" * 1024, "é" * 512, "😀" * 256, "a/b/c.txt", "with space", "+%#?&=;:@", ".hidden", "a/.b", "a..b"],
)
def test_valid_key_is_returned_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("metadata", "rule", "imposed_by"),
    [
        pytest.param(["a"], "metadata.type", "failover", id="not-a-mapping"),
        pytest.param({"a": 1}, "metadata.type", "failover", id="int-value"),
        pytest.param({1: "a"}, "metadata.type", "failover", id="int-name"),
        pytest.param({"Upper": "x"}, "metadata.name", "Azure, S3", id="uppercase"),
        pytest.param({"a-b": "x"}, "metadata.name", "Azure, S3", id="dash"),
        pytest.param({"9a": "x"}, "metadata.name", "Azure, S3", id="leading-digit"),
        pytest.param({"": "x"}, "metadata.name", "Azure, S3", id="empty-name"),
        pytest.param({"failover_x": "x"}, "metadata.reserved", "failover", id="reserved"),
        pytest.param({"a": "é"}, "metadata.value_ascii", "S3, Azure", id="non-ascii"),
        pytest.param({"a": "a\nb"}, "metadata.value_ascii", "S3, Azure", id="newline"),
        pytest.param({"a": " x"}, "metadata.value_whitespace", "S3, Azure", id="leading-space"),
        pytest.param({"a": "x "}, "metadata.value_whitespace", "S3, Azure", id="trailing-space"),
        pytest.param({"a": "x" * MAX_METADATA_BYTES}, "metadata.max_size", "S3", id="2049-bytes"),
        pytest.param({"a": "x" * MAX_USER_METADATA_BYTES}, "metadata.max_size", "S3", id="one-over-the-user-limit"),
    ],
)
def test_invalid_metadata_names_its_rule_and_provider(metadata: Any, rule: str, imposed_by: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_metadata(metadata)
    assert (caught.value.rule, caught.value.imposed_by) == (rule, imposed_by), f"refused as {caught.value!r}"


def test_metadata_at_exactly_the_size_limit_is_accepted_and_copied() -> None:
    metadata = {"a": "x" * (MAX_USER_METADATA_BYTES - 1)}
    checked = validate_metadata(metadata)
    assert checked == metadata
    assert checked is not metadata, "validate_metadata returned the caller's dict, not a copy"


def test_the_user_limit_leaves_room_for_the_librarys_own_entries() -> None:
    longest_own = {name: "x" * size for name, size in RESERVED_METADATA.items()}
    at_limit = {"a": "x" * (MAX_USER_METADATA_BYTES - 1)}
    assert metadata_size({**at_limit, **longest_own}) == MAX_METADATA_BYTES


def test_metadata_carrying_the_version_leaves_room_for_the_sha256_only() -> None:
    version = {"failover_version": "v"}
    room = MAX_METADATA_BYTES - len("failover_sha256") - 64 - metadata_size(version)
    fits = {**version, "a": "x" * (room - 1)}
    assert validate_metadata(fits, reserved_allowed={"failover_version"}) == fits
    with pytest.raises(InvalidRequest, match=r"metadata\.max_size"):
        validate_metadata({**version, "a": "x" * room}, reserved_allowed={"failover_version"})


def test_no_metadata_is_an_empty_dict() -> None:
    assert validate_metadata(None) == {}


def test_reserved_name_is_accepted_only_where_allowed() -> None:
    assert validate_metadata({"failover_version": "v1"}, reserved_allowed={"failover_version"}) == {
        "failover_version": "v1"
    }
    with pytest.raises(InvalidRequest, match=r"metadata\.reserved"):
        validate_metadata({"failover_sha256": "x"}, reserved_allowed={"failover_version"})


@pytest.mark.parametrize("content_type", ["", "x" * 256, "text/plain\n", "tëxt/plain", 42])
def test_invalid_content_type_is_refused(content_type: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_content_type(content_type)
    assert (caught.value.rule, caught.value.imposed_by) == ("content_type", "S3, GCS, Azure")


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain; charset=utf-8", "x" * 255])
def test_valid_content_type_is_returned_unchanged(content_type: str | None) -> None:
    assert validate_content_type(content_type) == content_type


def test_size_over_the_limit_names_the_provider() -> None:
    assert validate_size(10, 10, "azure") == 10
    with pytest.raises(InvalidRequest) as caught:
        validate_size(11, 10, "azure")
    assert (caught.value.rule, caught.value.imposed_by) == ("object.max_size", "azure")


@pytest.mark.parametrize(
    ("byte_range", "rule"),
    [
        pytest.param([0, 1], "range.type", id="list"),
        pytest.param((0, 1, 2), "range.type", id="three"),
        pytest.param((-1, 2), "range.start", id="negative-start"),
        pytest.param(("0", 2), "range.start", id="str-start"),
        pytest.param((2, 2), "range.stop", id="empty"),
        pytest.param((3, 2), "range.stop", id="reversed"),
        pytest.param((0, 1.0), "range.stop", id="float-stop"),
        pytest.param((True, None), "range.start", id="bool-start"),
        pytest.param((False, 3), "range.start", id="false-start"),
        pytest.param((0, True), "range.stop", id="bool-stop"),
        pytest.param((0, -1), "range.stop", id="negative-stop"),
    ],
)
def test_invalid_byte_range_names_its_rule(byte_range: Any, rule: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_byte_range(byte_range)
    assert caught.value.rule == rule, f"refused as {caught.value.rule!r}"


@pytest.mark.parametrize("byte_range", [None, (0, 1), (5, None), (0, 10**12)])
def test_valid_byte_range_is_returned(byte_range: tuple[int, int | None] | None) -> None:
    assert validate_byte_range(byte_range) == byte_range


@pytest.mark.parametrize(
    "timeout",
    ["3", float("nan"), float("inf"), -1, 0, 0.0, True, False, [3]],
    ids=["str", "nan", "inf", "negative", "zero", "zero-float", "true", "false", "list"],
)
def test_invalid_timeout_is_refused(timeout: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_timeout(timeout)
    assert caught.value.rule == "timeout"


@pytest.mark.parametrize("timeout", [None, 3, 0.5, 1e-3])
def test_valid_timeout_is_accepted(timeout: float | None) -> None:
    assert validate_timeout(timeout) == timeout


@pytest.mark.parametrize(
    "body", ["text", None, 3, [b"x"], io.StringIO("text")], ids=["str", "none", "int", "list", "text-stream"]
)
def test_invalid_body_is_refused(body: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_body(body)
    assert caught.value.rule == "body.type"


def test_text_mode_file_is_refused(tmp_path: Any) -> None:
    path = tmp_path / "f.txt"
    path.write_text("text")
    with path.open("r") as text, pytest.raises(InvalidRequest, match=r"body\.type"):
        validate_body(text)
    with path.open("rb") as binary:
        validate_body(binary)


def test_a_read_through_failover_storage_checks_its_key_once_not_once_per_layer(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    with FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=journal, replicate=False) as storage:
        storage.put("once/k", b"v")
        keys._checked_key.cache_clear()
        assert storage.get_bytes("once/k") == b"v"
        assert keys._checked_key.cache_info().misses == 1


def test_a_key_that_failed_fails_again() -> None:
    for _ in range(2):
        with pytest.raises(InvalidRequest):
            validate_key("a/../b")

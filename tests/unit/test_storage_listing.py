"""Listings agree with the journal: a key whose newest journaled operation is a delete is never listed,
and one whose newest version is journaled as acknowledged is never missing, whichever store answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.interfaces import CommonPrefix, ListEntry, ObjectInfo
from failover.replication import Op, SqliteJournal
from failover.testing.faulty import refused
from tests.unit.storage_rig import Rig, rig


@pytest.fixture
def two() -> Iterator[Rig]:
    yield from rig()


def keys(entries: Iterator[ListEntry]) -> list[str]:
    return [entry.key if isinstance(entry, ObjectInfo) else entry.prefix for entry in entries]


def behind_on_both(two: Rig) -> None:
    """aws misses ``a/2`` and still holds the deleted ``a/3``; gcp misses ``a/4``."""
    two.storage.put("a/1", b"1")
    two.storage.put("a/3", b"3")
    two.storage.drain()
    two.aws.fail(refused())
    two.storage.put("a/2", b"2")
    two.storage.delete("a/3")
    two.recover("aws")
    two.gcp.fail(refused())
    two.storage.put("a/4", b"4")
    two.recover("gcp")
    assert two.storage.journal.backlog() == {"aws": 2, "gcp": 1}


@pytest.mark.parametrize("answering", ["aws", "gcp"])
def test_a_listing_from_a_store_that_is_behind_shows_the_journaled_keys_and_hides_the_deleted(
    two: Rig, answering: str
) -> None:
    behind_on_both(two)
    other = "gcp" if answering == "aws" else "aws"
    two.stores[other].fail(refused())
    assert keys(two.storage.list("a/")) == ["a/1", "a/2", "a/4"]
    assert two.stores[answering].calls["list"] == 1


def test_a_key_added_from_the_journal_carries_its_journaled_version(two: Rig) -> None:
    behind_on_both(two)
    info = two.storage.head("a/2")
    two.gcp.fail(refused())
    listed = {entry.key: entry for entry in two.storage.list("a/") if isinstance(entry, ObjectInfo)}
    assert (listed["a/2"].version, listed["a/2"].sha256, listed["a/2"].size) == (info.version, info.sha256, 1)
    assert listed["a/2"].provider == "failover"


def test_a_listing_with_a_delimiter_shows_the_folder_of_a_journaled_key(two: Rig) -> None:
    two.storage.put("top", b"t")
    two.storage.drain()
    two.aws.fail(refused())
    two.storage.put("dir/sub/key", b"k")
    two.recover("aws")
    two.gcp.fail(refused())
    listed = list(two.storage.list("", delimiter="/"))
    assert listed[0] == CommonPrefix("dir/")
    assert keys(iter(listed)) == ["dir/", "top"]


def test_a_listing_under_another_prefix_is_not_changed_by_the_journal(two: Rig) -> None:
    behind_on_both(two)
    two.storage.put("b/1", b"1")
    two.storage.drain()
    assert keys(two.storage.list("b/")) == ["b/1"]


def test_the_journal_gives_the_newest_pending_version_of_each_key_under_a_prefix(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        journal.append("a/1", "v1", "s1", 1, "aws", ["gcp"])
        journal.append("a/1", "v2", None, 0, "aws", ["gcp", "azure"], Op.DELETE)
        journal.append("a/2", "v1", "s2", 2, "gcp", ["aws"])
        journal.append("ab", "v1", "s3", 3, "aws", ["gcp"])
        journal.append("b/1", "v1", "s4", 4, "aws", ["gcp"])
        under = [(item.key, item.version, item.op, item.store) for item in journal.newest_under("a/")]
        assert under == [
            ("a/1", "v2", Op.DELETE, "azure"),
            ("a/1", "v2", Op.DELETE, "gcp"),
            ("a/2", "v1", Op.PUT, "aws"),
        ]
        assert [item.key for item in journal.newest_under("")] == ["a/1", "a/1", "a/2", "ab", "b/1"]

"""Anti-entropy repair: the newest version of every key reaches every store; conflicts are reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.errors import ProviderUnavailable, Reason
from failover.interfaces import ListEntry, ObjectInfo
from failover.replication.journal import SqliteJournal
from failover.replication.repair import RepairAction, repair
from failover.replication.stamps import VersionStamp


def v(n: int) -> str:
    return str(VersionStamp(n, 0, "w"))


class BareListing(MemoryStore):
    """A store whose listing carries no metadata (as S3's does not), so repair must head; counts heads."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.heads = 0

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        for entry in super().list(prefix, delimiter=delimiter):
            yield ObjectInfo(entry.key, entry.size, self.provider) if isinstance(entry, ObjectInfo) else entry

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        self.heads += 1
        return super().head(key)


class DownStore(MemoryStore):
    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        raise ProviderUnavailable("refused", provider=self.name, reason=Reason.REFUSED)


def put(store: MemoryStore, key: str, data: bytes, version: str | None) -> None:
    store.put(key, data, metadata={} if version is None else {"failover_version": version})


def state(store: MemoryStore, key: str) -> tuple[str | None, bytes]:
    return store.head(key).version, store.get_bytes(key)


@pytest.fixture
def stores() -> dict[str, MemoryStore]:
    return {name: MemoryStore(name) for name in ("a", "b", "c")}


def test_missing_copy_is_made_from_a_store_that_has_the_key(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "k", b"x", v(1))
    report = repair(stores)
    assert [state(stores[name], "k") for name in ("b", "c")] == [(v(1), b"x")] * 2
    assert (report.scanned, report.copied, report.in_sync) == (1, 2, 0)


def test_older_copy_is_replaced_by_the_newest(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "k", b"old", v(1))
    put(stores["b"], "k", b"new", v(2))
    put(stores["c"], "k", b"new", v(2))
    report = repair(stores)
    assert state(stores["a"], "k") == (v(2), b"new")
    assert report.actions == [RepairAction("k", v(2), stores["b"].head("k").sha256 or "", "b", "a")]


def test_keys_in_sync_are_counted_and_left_alone(stores: dict[str, MemoryStore]) -> None:
    for store in stores.values():
        put(store, "k", b"x", v(1))
    etags = {name: store.head("k").etag for name, store in stores.items()}
    report = repair(stores)
    assert (report.scanned, report.in_sync, report.copied) == (1, 1, 0)
    assert {name: store.head("k").etag for name, store in stores.items()} == etags


def test_dry_run_reports_the_copies_and_makes_none(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "k", b"x", v(1))
    report = repair(stores, dry_run=True)
    assert report.dry_run
    assert report.copied == 2
    assert [(action.source, action.target) for action in report.actions] == [("a", "b"), ("a", "c")]
    assert list(stores["b"].list()) == []


def test_same_stamp_with_different_contents_is_a_conflict_not_a_guess(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "k", b"one", v(1))
    put(stores["b"], "k", b"two", v(1))
    report = repair(stores)
    (conflict,) = report.conflicts
    assert (conflict.key, conflict.version, set(conflict.sha256)) == ("k", v(1), {"a", "b"})
    assert conflict.reason == "same version, different sha256"
    assert report.copied == 0
    assert list(stores["c"].list()) == []


def test_objects_written_without_a_stamp_are_copied_by_content(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "k", b"plain", None)
    repair(stores)
    assert state(stores["c"], "k") == (None, b"plain")


def test_stamped_version_beats_an_unstamped_object(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "k", b"plain", None)
    put(stores["b"], "k", b"stamped", v(1))
    repair(stores)
    assert state(stores["a"], "k") == (v(1), b"stamped")


def test_only_keys_under_the_prefix_are_touched(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "in/k", b"x", v(1))
    put(stores["a"], "out/k", b"x", v(1))
    report = repair(stores, "in/")
    assert report.scanned == 1
    assert [entry.key for entry in stores["b"].list() if isinstance(entry, ObjectInfo)] == ["in/k"]


def test_listing_without_metadata_is_completed_by_heads() -> None:
    bare = BareListing("a")
    put(bare, "k", b"new", v(2))
    other = MemoryStore("b")
    put(other, "k", b"old", v(1))
    repair({"a": bare, "b": other})
    assert bare.heads >= 1
    assert state(other, "k") == (v(2), b"new")


def test_unreachable_store_is_reported_and_the_others_repaired(stores: dict[str, MemoryStore]) -> None:
    stores["c"] = DownStore("c")
    put(stores["a"], "k", b"x", v(1))
    report = repair(stores)
    assert report.unreachable == ["c"]
    assert state(stores["b"], "k") == (v(1), b"x")


def test_store_reported_down_is_not_listed(stores: dict[str, MemoryStore]) -> None:
    stores["c"] = DownStore("c")
    put(stores["a"], "k", b"x", v(1))
    report = repair(stores, is_available=lambda name: name != "c")
    assert (report.unreachable, report.failed) == (["c"], [])


def test_keys_the_journal_still_replicates_are_left_to_the_replicator(
    stores: dict[str, MemoryStore], tmp_path: Path
) -> None:
    put(stores["a"], "k", b"x", v(1))
    with SqliteJournal(tmp_path / "j.db") as journal:
        journal.append("k", v(1), stores["a"].head("k").sha256, 1, "a", ["b", "c"])
        report = repair(stores, journal=journal)
    assert (report.pending, report.copied) == (1, 0)


def test_progress_is_reported_per_key(stores: dict[str, MemoryStore]) -> None:
    for key in ("k1", "k2"):
        put(stores["a"], key, b"x", v(1))
    seen: list[tuple[int, int, str]] = []
    repair(stores, on_progress=lambda done, left, key: seen.append((done, left, key)))
    assert seen == [(1, 1, "k1"), (2, 0, "k2")]


def test_repair_is_idempotent(stores: dict[str, MemoryStore]) -> None:
    put(stores["a"], "k1", b"x", v(1))
    put(stores["b"], "k2", b"y", v(2))
    repair(stores)
    second = repair(stores)
    assert (second.scanned, second.in_sync, second.copied) == (2, 2, 0)

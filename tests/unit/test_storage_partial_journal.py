"""Reads and writes while the journal's answer is not whole (the fleet's, while its database is away):
another process's newest version may be pending unseen, so the stores themselves say which is
newest, and a write that holds no turn among the writers lands only over an older version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.adapters._common import VERSION_KEY
from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.errors import StaleReadRisk
from failover.health import HealthState
from failover.replication import Journal, SqliteJournal
from failover.replication.journal import PartialJournal
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore, refused
from tests.unit.storage_rig import SETTINGS


class _Away:
    """A journal that knows only this process's entries, and says so while ``whole`` is False."""

    def __init__(self, inner: SqliteJournal) -> None:
        self.inner = inner
        self.whole = True

    def newest_pending_in_whole(self, key: str) -> tuple[frozenset[str], bool]:
        return self.inner.newest_pending(key), self.whole

    def holds_turn(self, key: str, version: str) -> bool:
        return self.whole

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture
def shared() -> dict[str, MemoryStore]:
    return {"aws": MemoryStore("aws"), "gcp": MemoryStore("gcp")}


def _storage(
    stores: dict[str, MemoryStore], journal: Journal | _Away
) -> tuple[FailoverStorage, dict[str, FaultyStore]]:
    clock = ManualClock()
    faulty = {name: FaultyStore(store, clock=clock) for name, store in stores.items()}
    storage = FailoverStorage(
        list(faulty.values()),
        settings=SETTINGS,
        clock=clock,
        replicate=False,
        journal=journal,  # type: ignore[arg-type]  # _Away forwards the rest of Journal
    )
    return storage, faulty


@pytest.fixture
def reader_and_writer(
    shared: dict[str, MemoryStore], tmp_path: Path
) -> Iterator[tuple[FailoverStorage, _Away, FailoverStorage]]:
    away = _Away(SqliteJournal(tmp_path / "reader.sqlite"))
    reader, _ = _storage(shared, away)
    writer, writer_stores = _storage(shared, SqliteJournal(tmp_path / "writer.sqlite"))
    reader.put("k", b"old")
    reader.drain()
    writer_stores["aws"].fail(refused())
    writer.put("k", b"new")  # on GCS only; pending for S3 in the writer's journal, which the reader cannot see
    yield reader, away, writer
    reader.close()
    writer.close()
    away.inner.close()


def test_the_journal_protocol_for_partial_answers_is_recognised() -> None:
    assert isinstance(_Away.__new__(_Away), PartialJournal)


def test_the_premise_a_journal_that_missed_the_other_writer_and_says_it_is_whole_reads_the_primary(
    reader_and_writer: tuple[FailoverStorage, _Away, FailoverStorage],
) -> None:
    reader, _, _ = reader_and_writer
    # The stale answer a journal that is not whole must not lead to (a whole journal never misses
    # the other writer's entry: the fleet's database holds it).
    assert reader.get_bytes("k") == b"old"


def test_a_read_while_the_journal_is_not_whole_returns_the_newest_version_any_store_holds(
    reader_and_writer: tuple[FailoverStorage, _Away, FailoverStorage],
) -> None:
    reader, away, _ = reader_and_writer
    away.whole = False
    assert reader.get_bytes("k") == b"new"
    assert reader.head("k").store == "gcp"


def test_a_store_that_lacks_the_key_is_not_taken_for_the_newest(shared: dict[str, MemoryStore], tmp_path: Path) -> None:
    away = _Away(SqliteJournal(tmp_path / "reader.sqlite"))
    reader, _ = _storage(shared, away)
    writer, writer_stores = _storage(shared, SqliteJournal(tmp_path / "writer.sqlite"))
    try:
        writer_stores["aws"].fail(refused())
        writer.put("fresh", b"only on gcs")
        away.whole = False
        assert reader.get_bytes("fresh") == b"only on gcs"
    finally:
        reader.close()
        writer.close()
        away.inner.close()


def test_a_store_whose_circuit_is_open_in_this_process_is_still_asked_and_its_newer_version_read(
    shared: dict[str, MemoryStore], tmp_path: Path
) -> None:
    # The chaos run's case: a process started during an S3 outage keeps S3's circuit open after S3
    # came back, while another process's newer version is on S3 only and GCS is behind.
    away = _Away(SqliteJournal(tmp_path / "reader.sqlite"))
    reader, reader_stores = _storage(shared, away)
    writer, writer_stores = _storage(shared, SqliteJournal(tmp_path / "writer.sqlite"))
    try:
        reader.put("k", b"old")
        reader.drain()
        reader_stores["aws"].fail(refused(), times=1)
        assert reader.get_bytes("k") == b"old"  # from GCS: S3 refused once, its circuit opened
        assert reader.health["aws"].state is HealthState.DOWN
        writer_stores["gcp"].fail(refused())
        writer.put("k", b"new")  # on S3 only
        away.whole = False
        assert reader.get_bytes("k") == b"new"
    finally:
        reader.close()
        writer.close()
        away.inner.close()


def test_a_store_that_does_not_answer_while_the_journal_is_not_whole_refuses_the_read_unless_stale_is_allowed(
    reader_and_writer: tuple[FailoverStorage, _Away, FailoverStorage],
) -> None:
    reader, away, _ = reader_and_writer
    away.whole = False
    gcs = reader.stores["gcp"]
    assert isinstance(gcs, FaultyStore)
    gcs.fail(refused())  # it holds the newest version; from here the reader cannot tell
    with pytest.raises(StaleReadRisk, match="gcp did not answer"):
        reader.get_bytes("k")
    assert reader.get_bytes("k", allow_stale=True) == b"old"


NEWER = "~newer than any stamp"  # sorts after every HLC stamp: another process's later write


def test_a_put_without_a_turn_does_not_land_over_a_newer_version_on_a_store(
    shared: dict[str, MemoryStore], tmp_path: Path
) -> None:
    away = _Away(SqliteJournal(tmp_path / "writer.sqlite"))
    writer, _ = _storage(shared, away)
    try:
        shared["aws"].put("k", b"newer", metadata={VERSION_KEY: NEWER})
        away.whole = False
        writer.put("k", b"older")  # acknowledged: superseded on S3, as if it had come first
        assert shared["aws"].get_bytes("k") == b"newer"
        assert shared["aws"].head("k").version == NEWER
    finally:
        writer.close()
        away.inner.close()


def test_a_put_without_a_turn_lands_over_an_older_version_and_on_a_missing_key(
    shared: dict[str, MemoryStore], tmp_path: Path
) -> None:
    away = _Away(SqliteJournal(tmp_path / "writer.sqlite"))
    writer, _ = _storage(shared, away)
    try:
        writer.put("k", b"first")
        away.whole = False
        writer.put("k", b"second")
        writer.put("fresh", b"new key")
        assert shared["aws"].get_bytes("k") == b"second"
        assert shared["aws"].get_bytes("fresh") == b"new key"
    finally:
        writer.close()
        away.inner.close()


def test_a_put_with_its_turn_writes_as_before(shared: dict[str, MemoryStore], tmp_path: Path) -> None:
    # The premise: with the turn held, the store's copy is not looked at (the fleet orders the writers).
    away = _Away(SqliteJournal(tmp_path / "writer.sqlite"))
    writer, stores = _storage(shared, away)
    try:
        writer.put("k", b"x")
        assert stores["aws"].calls.get("head", 0) == 0
    finally:
        writer.close()
        away.inner.close()

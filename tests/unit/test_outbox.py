"""The journal as an outbox: the intent before the store write, the commit after, and intents left
by a writer that died (or a journal that failed) settled by the replicator."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest

from failover.adapters._common import VERSION_KEY
from failover.adapters.memory import MemoryStore
from failover.engine import EngineSettings
from failover.errors import AllProvidersFailed, JournalError, NotFound
from failover.interfaces import Data, ObjectInfo
from failover.replication.intents import settle_intents
from failover.replication.journal import Op, SqliteJournal
from failover.replication.replicator import Replicator
from failover.replication.stamps import VersionStamp
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore, refused, timed_out

SETTINGS = EngineSettings(start_probers=False)
FOREVER = float("inf")


class Wall:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


class Watching(MemoryStore):
    """A MemoryStore that, during each put, lets a test look at the world (the write in flight)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.during_put: list[object] = []
        self.look: object = None

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
        if callable(self.look):
            self.during_put.append(self.look())
        return super().put(
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
            timeout=timeout,
        )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.sqlite") as opened:
        yield opened


def test_intent_is_journaled_before_the_store_write(journal: SqliteJournal) -> None:
    a = Watching("a")
    a.look = lambda: [(i.key, i.op) for i in journal.intents(expired_by=FOREVER)]
    with FailoverStorage([a, MemoryStore("b")], journal=journal, settings=SETTINGS, replicate=False) as storage:
        storage.put("k", b"v")
    assert a.during_put == [[("k", Op.PUT)]]
    assert journal.intents(expired_by=FOREVER) == [], "the commit did not clear the intent"
    assert journal.backlog() == {"b": 1}


def test_replicator_copies_nothing_of_a_write_still_in_flight(journal: SqliteJournal) -> None:
    a, b = Watching("a"), MemoryStore("b")
    with FailoverStorage([a, b], journal=journal, settings=SETTINGS, replicate=False) as storage:
        a.look = lambda: storage.replicator.run_once().attempted
        storage.put("k", b"v")
    assert a.during_put == [0]
    with pytest.raises(NotFound):
        b.head("k")


def test_write_no_store_took_abandons_its_intent(journal: SqliteJournal) -> None:
    a, b = FaultyStore(MemoryStore("a")), FaultyStore(MemoryStore("b"))
    a.fail(refused())
    b.fail(refused())
    with (
        FailoverStorage([a, b], journal=journal, settings=SETTINGS, replicate=False) as storage,
        pytest.raises(AllProvidersFailed),
    ):
        storage.put("k", b"v")
    assert journal.intents(expired_by=FOREVER) == []
    assert journal.backlog() == {}


def test_write_of_unknown_outcome_everywhere_keeps_its_intent(journal: SqliteJournal) -> None:
    a, b = FaultyStore(MemoryStore("a")), FaultyStore(MemoryStore("b"))
    a.fail(timed_out(), "put", after=True)
    b.fail(refused())
    with (
        FailoverStorage([a, b], journal=journal, settings=SETTINGS, replicate=False) as storage,
        pytest.raises(AllProvidersFailed),
    ):
        storage.put("k", b"v")
    assert [i.key for i in journal.intents(expired_by=FOREVER)] == ["k"]


def _stamped(store: MemoryStore, key: str, version: str, body: bytes) -> ObjectInfo:
    return store.put(key, body, metadata={VERSION_KEY: version})


def test_expired_intent_found_on_a_store_is_committed_pending_on_the_others(tmp_path: Path) -> None:
    wall = Wall()
    a, b = MemoryStore("a"), MemoryStore("b")
    version = str(VersionStamp(5, 0, "w"))
    info = _stamped(a, "k", version, b"v")  # the writer died after this store write, before its commit
    with SqliteJournal(tmp_path / "j.sqlite", wall=wall) as journal:
        journal.intend("k", version, info.sha256, info.size, ["a", "b"], lease=10)
        replicator = Replicator({"a": a, "b": b}, journal, wall=wall)
        assert replicator.run_once().attempted == 0, "an intent within its lease was settled"
        wall.seconds += 11
        replicator.run_once()
        assert journal.intents(expired_by=FOREVER) == []
    assert b.get_bytes("k") == b"v"


def test_expired_intent_no_store_holds_is_abandoned(tmp_path: Path) -> None:
    wall = Wall()
    a, b = MemoryStore("a"), MemoryStore("b")
    with SqliteJournal(tmp_path / "j.sqlite", wall=wall) as journal:
        journal.intend("k", str(VersionStamp(5, 0, "w")), "ab" * 32, 1, ["a", "b"], lease=0)
        wall.seconds += 1
        Replicator({"a": a, "b": b}, journal, wall=wall).run_once()
        assert journal.intents(expired_by=FOREVER) == []
        assert journal.backlog() == {}


class CommitFails(SqliteJournal):
    """A journal whose next commit (append) fails, as when the disk fills right after a store write."""

    fail_next = False

    def append(self, *args: Any, **kwargs: Any) -> bool:
        if self.fail_next:
            self.fail_next = False
            raise JournalError("disk full")
        return super().append(*args, **kwargs)


def test_write_whose_commit_failed_keeps_its_intent_and_replication_settles_it(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), MemoryStore("b")
    journal = CommitFails(tmp_path / "j.sqlite")
    with journal:
        with FailoverStorage([a, b], journal=journal, settings=SETTINGS, replicate=False) as storage:
            journal.fail_next = True
            with pytest.raises(JournalError):
                storage.put("k", b"v")  # on a, and not acknowledged
            assert [i.key for i in journal.intents(expired_by=FOREVER)] == ["k"], "the store write went unrecorded"
            # Past the intent's lease (the put's deadline plus a grace period), replication settles it.
            assert settle_intents(journal, storage.stores, now=time.time() + 3600, is_available=lambda _: True) == 1
            storage.drain()
        assert journal.intents(expired_by=FOREVER) == []
        assert journal.backlog() == {}
    assert b.get_bytes("k") == b"v", "the write found on a was not replicated"

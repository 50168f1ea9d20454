"""Replicated deletes are conditional: a tombstone never removes a version newer than the one the
replicator saw, even when another writer's put lands between its look and its delete."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover.adapters._common import VERSION_KEY
from failover.adapters.memory import MemoryStore
from failover.engine import EngineSettings
from failover.errors import InvalidRequest, NotFound, PreconditionFailed
from failover.interfaces import Capabilities, ObjectInfo
from failover.replication.journal import Op, SqliteJournal
from failover.replication.replicator import Replicator
from failover.replication.stamps import VersionStamp
from failover.storage import FailoverStorage

SETTINGS = EngineSettings(start_probers=False)


def v(n: int) -> str:
    return str(VersionStamp(n, 0, "w"))


class AfterHead(MemoryStore):
    """A view of ``inner`` (same objects) that runs ``hook`` once, right after a head returns: the
    moment between the replicator's look at the target and its delete."""

    def __init__(self, inner: MemoryStore, *, capabilities: Capabilities | None = None) -> None:
        super().__init__(inner.name, capabilities=capabilities)
        self._objects = inner._objects  # the same objects: a second client of one bucket
        self._lock = inner._lock
        self.hook: Callable[[], object] | None = None

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        info = super().head(key, timeout=timeout)
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return info


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.sqlite") as opened:
        yield opened


def test_memory_store_deletes_only_the_version_it_is_told(journal: SqliteJournal) -> None:
    store = MemoryStore("m")
    old = store.put("k", b"1")
    store.put("k", b"2")
    with pytest.raises(PreconditionFailed):
        store.delete("k", if_match=old.etag)
    assert store.get_bytes("k") == b"2"
    store.delete("k", if_match=store.head("k").etag)
    with pytest.raises(NotFound):
        store.head("k")
    store.delete("k", if_match=old.etag)  # already gone: done


def test_store_without_conditional_delete_refuses_the_condition() -> None:
    store = MemoryStore("m", capabilities=Capabilities(max_object_size=10, conditional_delete=False))
    with pytest.raises(InvalidRequest):
        store.delete("k", if_match="x")


def test_tombstone_spares_a_newer_put_that_lands_between_the_look_and_the_delete(journal: SqliteJournal) -> None:
    shared_a = MemoryStore("a")
    shared_a.put("k", b"old", metadata={VERSION_KEY: v(1)})
    journal.append("k", v(2), None, 0, "b", ["a"], Op.DELETE)
    target = AfterHead(shared_a)

    def newer_put() -> None:
        shared_a.put("k", b"new", metadata={VERSION_KEY: v(3)})
        journal.append("k", v(3), "x" * 64, 3, "a", ["b"])

    target.hook = newer_put
    Replicator({"a": target, "b": MemoryStore("b")}, journal).run_once()
    assert shared_a.get_bytes("k") == b"new", "the tombstone deleted a newer version"


def test_two_writers_on_one_journal_never_lose_the_newer_put_to_a_replicated_delete(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), MemoryStore("b")
    path = tmp_path / "journal.sqlite"
    watched = AfterHead(a)
    with (
        # x prefers b, so its delete lands on b and the tombstone is pending on a; y prefers a.
        FailoverStorage([b, watched], journal=path, settings=SETTINGS, replicate=False, writer_id="x") as x,
        FailoverStorage([a, b], journal=path, settings=SETTINGS, replicate=False, writer_id="y") as y,
    ):
        y.put("k", b"v1")
        y.drain()
        x.delete("k")
        watched.hook = lambda: y.put("k", b"v2")  # y's newer put lands right after x's replicator looks
        x.drain()
        y.drain()
        assert a.get_bytes("k") == b"v2", "the replicated delete erased y's newer put"
        assert b.get_bytes("k") == b"v2"
        assert y.get_bytes("k") == b"v2"


class IgnoresDeleteConditions(MemoryStore):
    """A store that claims conditional deletes and ignores the condition (fake-gcs-server 1.54 does),
    with a hook run once right after a put succeeds."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.after_put: Callable[[], object] | None = None

    def put(self, key: str, data: object, **options: object) -> ObjectInfo:
        info = super().put(key, data, **options)  # type: ignore[arg-type]
        if self.after_put is not None:
            hook, self.after_put = self.after_put, None
            hook()
        return info

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        super().delete(key, timeout=timeout)


def test_a_copy_taken_back_spares_a_newer_put_where_the_store_ignores_delete_conditions(tmp_path: Path) -> None:
    source, target = MemoryStore("source"), IgnoresDeleteConditions("target")
    path = tmp_path / "journal.sqlite"
    with (
        FailoverStorage([source, target], journal=path, settings=SETTINGS, replicate=False, writer_id="y") as y,
        FailoverStorage([target, source], journal=path, settings=SETTINGS, replicate=False, writer_id="x") as x,
    ):
        y.put("k", b"v1")  # on source; pending on target
        # Right after y's replicator creates v1 on the target, x's newer put lands there: the copy is
        # then retired, and taking it back must not delete x's version.
        target.after_put = lambda: x.put("k", b"v2")
        y.drain()
        assert target.get_bytes("k") == b"v2", "taking back a copy deleted a newer put"
        x.drain()
        assert source.get_bytes("k") == b"v2"

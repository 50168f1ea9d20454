"""Writes of one key through one FailoverStorage take turns, with each other and with the replicator.

Each test holds one operation inside a store (`Paused`) and starts a second one on another thread:
a second writer of the same key must wait, and the stores and the journal must end on the newest
stamp. The waits are bounded, so a regression fails instead of hanging.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import pytest

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.errors import NotFound, ProviderUnavailable, Reason
from failover.interfaces import Data, ObjectInfo
from failover.replication import Journal, SqliteJournal, VersionStamp
from failover.storage import FailoverStorage
from failover.storage._locks import KeyLocks
from failover.storage._writes import Mode
from tests.unit.storage_rig import SETTINGS

WAIT = 5.0  # seconds a test waits for a thread that must get there


class Paused(MemoryStore):
    """A MemoryStore that, when ``armed`` with an operation, stops the next such call until ``resume``.

    A put stops before it stores (a request still in flight); a delete after it deleted (not yet
    journaled by its writer).
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.armed: str | None = None
        self.reached = threading.Event()
        self.resume = threading.Event()

    def _pause(self, operation: str) -> None:
        if self.armed == operation:
            self.armed = None
            self.reached.set()
            assert self.resume.wait(WAIT), f"{self.name} {operation} was never resumed"

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
        self._pause("put")
        return super().put(
            key, data, content_type=content_type, metadata=metadata, if_none_match=if_none_match, if_match=if_match
        )

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        super().delete(key, if_match=if_match)
        self._pause("delete")


class Landing(Paused):
    """A `Paused` whose armed put stops twice: before it stores, and once it has stored, until
    ``go_on`` (so that a test can read while it stands there); ``refusing`` refuses every delete."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.landed = threading.Event()
        self.go_on = threading.Event()
        self.refusing = False

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
        stopping = self.armed == "put"
        stored = super().put(
            key, data, content_type=content_type, metadata=metadata, if_none_match=if_none_match, if_match=if_match
        )
        if stopping:
            self.landed.set()
            assert self.go_on.wait(WAIT), f"{self.name} put was never let go on"
        return stored

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        if self.refusing:
            raise ProviderUnavailable("connection refused", provider=self.name, reason=Reason.REFUSED)
        super().delete(key, if_match=if_match, timeout=timeout)


class Background:
    """``fn`` on a thread; `result` joins it and returns its value (or raises its error)."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self._value: list[object] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            self._value.append(fn())
        except BaseException as exc:
            self._error.append(exc)

    def finished_within(self, seconds: float) -> bool:
        self._thread.join(seconds)
        return not self._thread.is_alive()

    def result(self) -> object:
        assert self.finished_within(WAIT), "the operation did not finish"
        if self._error:
            raise self._error[0]
        return self._value[0]


@pytest.fixture
def stores() -> dict[str, Paused]:
    return {name: Paused(name) for name in ("aws", "gcp")}


def storage_over(
    stores: Mapping[str, Paused], *, mode: Mode = "primary", journal: Journal | None = None
) -> FailoverStorage:
    return FailoverStorage(
        list(stores.values()), mode=mode, journal=journal, settings=SETTINGS, clock=ManualClock(), replicate=False
    )


def held(stores: Mapping[str, Paused], key: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name, store in stores.items():
        try:
            found[name] = MemoryStore.head(store, key).version
        except LookupError:
            found[name] = None
    return found


@pytest.mark.parametrize("mode", ["primary", "mirror"])
def test_concurrent_puts_of_one_key_leave_the_newest_stamp_on_every_store(
    stores: dict[str, Paused], mode: Mode
) -> None:
    with storage_over(stores, mode=mode) as storage:
        stores["aws"].armed = "put"
        first = Background(lambda: storage.put("k", b"first"))
        assert stores["aws"].reached.wait(WAIT)
        second = Background(lambda: storage.put("k", b"second"))
        overtook = second.finished_within(0.2)
        stores["aws"].resume.set()
        acked = [first.result(), second.result()]
        newest = max(info.version or "" for info in acked if isinstance(info, ObjectInfo))
        storage.drain()
        assert held(stores, "k") == {"aws": newest, "gcp": newest}, "a store kept an older version"
        assert storage.journal.backlog() == {}
        # A mirror acks at its quorum (1 of 2 here): the second put may go ahead, leaving out the store
        # the first still writes (journaled for it); the held versions above prove the order kept.
        assert mode == "mirror" or not overtook, (
            "a second put of the key went ahead while the first was still writing it"
        )


def test_delete_waits_for_a_put_of_the_same_key_in_flight(stores: dict[str, Paused]) -> None:
    with storage_over(stores) as storage:
        stores["aws"].armed = "put"
        put = Background(lambda: storage.put("k", b"x"))
        assert stores["aws"].reached.wait(WAIT)
        delete = Background(lambda: storage.delete("k"))
        overtook = delete.finished_within(0.2)
        stores["aws"].resume.set()
        put.result()
        delete.result()
        storage.drain()
        assert held(stores, "k") == {"aws": None, "gcp": None}, "the put landed after the newer tombstone"
        assert not overtook, "the delete went ahead while a put of the key was still writing it"


def test_a_write_of_another_key_does_not_wait(stores: dict[str, Paused]) -> None:
    with storage_over(stores) as storage:
        stores["aws"].armed = "put"
        slow = Background(lambda: storage.put("k", b"x"))
        assert stores["aws"].reached.wait(WAIT)
        other = Background(lambda: storage.put("other", b"y"))
        assert other.finished_within(WAIT), "a put of another key waited for the first"
        stores["aws"].resume.set()
        slow.result()


def _pending_on_aws(storage: FailoverStorage, stores: Mapping[str, Paused]) -> None:
    """A put that went to gcp while aws was away: pending on aws, which never had the key."""
    old = str(VersionStamp(1, 0, "earlier"))
    written = MemoryStore.put(stores["gcp"], "k", b"x", metadata={"failover_version": old})
    storage.journal.append("k", old, written.sha256, written.size, "gcp", ["aws"])


def _copy_to_aws_stopped_before_it_stores(storage: FailoverStorage, stores: Mapping[str, Paused]) -> Background:
    """The replicator copying the pending put to aws, on a thread, stopped in aws's put before it stores."""
    stores["aws"].armed = "put"
    replication = Background(storage.drain)
    assert stores["aws"].reached.wait(WAIT)
    return replication


def test_replication_of_a_key_waits_for_a_delete_of_it_in_flight(stores: dict[str, Paused]) -> None:
    with storage_over(stores) as storage:
        _pending_on_aws(storage, stores)
        # Now aws takes a delete of the key, and stops before the tombstone is journaled: a copy of
        # the pending put made then would bring the object back on aws, and no tombstone would follow.
        stores["aws"].armed = "delete"
        delete = Background(lambda: storage.delete("k"))
        assert stores["aws"].reached.wait(WAIT)
        replication = Background(storage.drain)
        overtook = replication.finished_within(0.2)
        stores["aws"].resume.set()
        delete.result()
        replication.result()
        storage.drain()
        assert held(stores, "k") == {"aws": None, "gcp": None}, "the deleted object came back"
        assert not overtook, "the replicator applied an item of the key while a delete of it was in flight"


def test_put_that_the_journal_refuses_as_older_is_logged(
    tmp_path: Path, stores: dict[str, Paused], caplog: pytest.LogCaptureFixture
) -> None:
    with SqliteJournal(tmp_path / "journal.db") as journal:
        future = str(VersionStamp(2**44, 0, "other-process"))
        journal.append("k", future, "ab" * 32, 1, "aws", ["gcp"])
        with storage_over(stores, journal=journal) as storage, caplog.at_level(logging.WARNING):
            storage.put("k", b"x")
        assert "was not journaled" in caplog.text, "a put the journal refused was ignored silently"
        assert journal.newest_pending("k") == {"gcp"}


def test_key_locks_are_dropped_when_the_last_holder_leaves() -> None:
    locks = KeyLocks()
    with locks("a"), locks("b"):
        assert locks.held() == 2
    assert locks.held() == 0


def test_key_locks_serialize_holders_of_one_key() -> None:
    locks = KeyLocks()
    inside: list[str] = []
    entered = threading.Event()

    def hold(name: str) -> None:
        with locks("k"):
            inside.append(f"{name} in")
            entered.set()
            inside.append(f"{name} out")

    with locks("k"):
        waiting = Background(lambda: hold("second"))
        assert not entered.wait(0.1), "a second holder entered while the key was held"
        inside.append("first out")
    waiting.result()
    assert inside == ["first out", "second in", "second out"]
    assert locks.held() == 0


def test_a_delete_while_the_replicator_copies_the_key_is_never_undone_for_readers() -> None:
    stores = {"aws": Landing("aws"), "gcp": Landing("gcp")}
    with storage_over(stores) as storage:
        _pending_on_aws(storage, stores)
        # No condition a store checks can tell the absent key from one deleted a moment ago, so the
        # copy would store over a delete that came meanwhile.
        replication = _copy_to_aws_stopped_before_it_stores(storage, stores)
        delete = Background(lambda: storage.delete("k"))
        assert delete.finished_within(WAIT), "a delete waited for the replicator's copy of the key"
        delete.result()
        stores["aws"].resume.set()
        assert stores["aws"].landed.wait(WAIT)
        try:
            with pytest.raises(NotFound):
                storage.get_bytes("k")  # acknowledged deleted: the copy on aws must not answer
        finally:
            stores["aws"].go_on.set()
        replication.result()
        storage.drain()
        assert held(stores, "k") == {"aws": None, "gcp": None}, "the deleted object came back"
        assert storage.journal.backlog() == {}


def test_a_delete_no_other_store_takes_waits_for_the_replicators_copy_of_the_key() -> None:
    stores = {"aws": Landing("aws"), "gcp": Landing("gcp")}
    with storage_over(stores) as storage:
        _pending_on_aws(storage, stores)
        replication = _copy_to_aws_stopped_before_it_stores(storage, stores)
        stores["gcp"].refusing = True
        delete = Background(lambda: storage.delete("k"))
        waited = not delete.finished_within(0.2)
        stores["aws"].resume.set()
        stores["aws"].go_on.set()
        replication.result()
        delete.result()
        assert waited, "the delete did not wait for the copy on the one store that could take it"
        assert held(stores, "k")["aws"] is None, "the copy landed after the delete"
        assert storage.journal.newest_pending("k") == {"gcp"}, "the delete was not journaled for gcp"

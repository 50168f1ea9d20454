"""The fleet chaos run's checker: what it counts as lost, stale, diverged or handed twice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

from failover.adapters.memory import MemoryStore
from failover.replication.journal import Journal, SqliteJournal
from failover.testing.fleet_chaos import _check, _final_drain


def _history(directory: Path, name: str, records: list[dict[str, Any]]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))


def _stores(**versions: str) -> list[MemoryStore]:
    stores = [MemoryStore("a"), MemoryStore("b")]
    for store, version in zip(stores, versions.values(), strict=True):
        store.put("k", b"x", metadata={"failover_version": version})
    return stores


def test_newest_acknowledged_version_missing_from_a_store_is_a_lost_write_and_not_converged(tmp_path: Path) -> None:
    _history(tmp_path, "writer-0", [{"ack": "k", "v": "v2", "t0": 0, "t1": 1}])
    report = _check(tmp_path, _stores(a="v2", b="v1"))
    assert (report["acknowledged_writes_lost"], report["keys_not_converged"]) == (1, 1)


def test_read_older_than_a_write_acknowledged_before_it_began_is_stale(tmp_path: Path) -> None:
    _history(tmp_path, "writer-0", [{"ack": "k", "v": "v2", "t0": 0, "t1": 1}])
    _history(tmp_path, "writer-1", [{"read": "k", "v": "v1", "t0": 2}, {"read": "k", "v": "v1", "t0": 0.5}])
    assert _check(tmp_path, _stores(a="v2", b="v2"))["stale_reads"] == 1


def test_message_handed_on_by_two_consumers_counts_once_as_twice_unless_its_ack_failed(tmp_path: Path) -> None:
    _history(tmp_path, "writer-0", [{"sent": "m1"}, {"sent": "m2"}, {"sent": "m3"}])
    _history(tmp_path, "consumer-0", [{"handed": "m1"}, {"handed": "m2"}, {"ack_failed": "m2"}])
    _history(tmp_path, "consumer-1", [{"handed": "m1"}, {"handed": "m2"}])
    report = _check(tmp_path, [])
    assert report["messages_handed_twice"] == 1
    assert report["messages_handed_again_after_a_failed_ack"] == 1
    assert report["messages_lost"] == 1


def test_a_message_still_in_a_queue_at_the_end_is_late_not_lost(tmp_path: Path) -> None:
    _history(tmp_path, "writer-0", [{"sent": "m1"}, {"sent": "m2"}, {"sent": "m3"}])
    _history(tmp_path, "consumer-0", [{"handed": "m1"}])
    report = _check(tmp_path, [], queued=frozenset({"m2"}))
    assert report["messages_lost"] == 1, "a message in no queue and never handed on is lost"
    assert report["messages_still_queued_at_the_end"] == 1
    assert "message lost: m3" in report["details"]


def test_final_drain_settles_the_intent_of_a_writer_killed_after_its_store_write(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), MemoryStore("b")
    a.put("k", b"x", metadata={"failover_version": "v2"})  # written, never committed: the writer died
    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        journal.intend("k", "v2", hashlib.sha256(b"x").hexdigest(), 1, ["a", "b"], lease=60)
        _final_drain([a, b], journal, timeout=10)
    assert b.head("k").version == "v2"


class _Hides:
    """A journal view that shows nothing pending until its database is asked for the count (a
    database that did not answer the drain's looks, and answered the count after)."""

    def __init__(self, journal: SqliteJournal) -> None:
        self.journal = journal
        self.hidden = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.journal, name)

    def pending(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [] if self.hidden else self.journal.pending(*args, **kwargs)

    def count(self) -> int:
        self.hidden = False
        return sum(self.journal.backlog().values())


def test_final_drain_goes_on_while_the_database_counts_items_left(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), MemoryStore("b")
    a.put("k", b"x", metadata={"failover_version": "v1"})
    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        journal.append("k", "v1", hashlib.sha256(b"x").hexdigest(), 1, "a", ["b"])
        view = _Hides(journal)
        _final_drain([a, b], cast(Journal, view), timeout=10, backlog=view.count)
    assert b.head("k").version == "v1"

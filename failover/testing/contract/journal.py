"""`JournalContract`: what every `Journal` promises (SQLite per host, PostgreSQL per fleet).

A binding overrides one fixture, ``open_journal``: a factory ``open_journal()`` that opens a journal on
the binding's shared, initially empty record (every call opens the same record, as another process
would) on the ``wall`` clock, and closes what it opened at the end of the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import pytest

from failover.replication.journal import Intent, Journal, JournalItem, Op
from failover.testing.contract._wall import ManualWall

__all__ = ["JournalContract", "ListedJournal", "OpenJournal"]

SHA = "ab" * 32
FOREVER = float("inf")


class ListedJournal(Journal, Protocol):
    def items(self, key: str) -> list[JournalItem]:
        """Every pending item of ``key``, due or not."""
        ...


OpenJournal = Callable[[], ListedJournal]


class JournalContract:
    """Subclass it as ``Test...`` and override `open_journal`."""

    @pytest.fixture
    def wall(self) -> ManualWall:
        return ManualWall()

    @pytest.fixture
    def open_journal(self, wall: ManualWall) -> OpenJournal:
        raise NotImplementedError("a binding of JournalContract overrides the `open_journal` fixture")

    @pytest.fixture
    def journal(self, open_journal: OpenJournal) -> ListedJournal:
        return open_journal()

    def test_appended_item_is_pending_for_each_named_store(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 3, "a", ["b", "c"])
        items = journal.pending()
        assert [(i.key, i.version, i.store, i.source, i.op, i.sha256, i.size) for i in items] == [
            ("k", "v1", "b", "a", Op.PUT, SHA, 3),
            ("k", "v1", "c", "a", Op.PUT, SHA, 3),
        ]
        assert all(i.attempts == 0 for i in items)

    def test_pending_is_oldest_version_first_across_keys(self, journal: ListedJournal) -> None:
        journal.append("z", "v1", SHA, 1, "a", ["b"])
        journal.append("y", "v3", SHA, 1, "a", ["b"])
        journal.append("x", "v2", SHA, 1, "a", ["b"])
        assert [i.key for i in journal.pending("b")] == ["z", "x", "y"]

    def test_pending_filters_by_store_and_limit(self, journal: ListedJournal) -> None:
        for n in range(5):
            journal.append(f"k{n}", f"v{n}", SHA, 1, "a", ["b", "c"])
        assert {i.store for i in journal.pending("c")} == {"c"}
        assert [i.key for i in journal.pending("b", limit=2)] == ["k0", "k1"]

    def test_newer_version_retires_the_older_on_every_store(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        journal.append("k", "v2", SHA, 2, "b", ["a", "c"])
        assert [(i.version, i.store) for i in journal.pending()] == [("v2", "a"), ("v2", "c")]

    def test_append_with_nothing_pending_still_retires_older_versions(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        assert journal.append("k", "v2", SHA, 1, "a", []) is True
        assert journal.pending() == []
        assert journal.newest_pending("k") == frozenset()

    def test_older_version_appended_after_a_newer_one_is_not_recorded(self, journal: ListedJournal) -> None:
        journal.append("k", "v2", SHA, 1, "a", ["b"])
        assert journal.append("k", "v1", SHA, 1, "a", ["b", "c"]) is False
        assert [(i.version, i.store) for i in journal.pending()] == [("v2", "b")]

    def test_tombstone_retires_an_older_put_and_carries_no_checksum(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.append("k", "v2", None, 0, "a", ["b"], Op.DELETE)
        (item,) = journal.pending()
        assert (item.version, item.op, item.sha256) == ("v2", Op.DELETE, None)

    def test_put_without_checksum_is_refused(self, journal: ListedJournal) -> None:
        with pytest.raises(ValueError, match="sha256"):
            journal.append("k", "v1", None, 1, "a", ["b"])

    def test_source_store_is_never_pending(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["a", "b"])
        assert [i.store for i in journal.pending()] == ["b"]

    def test_appending_the_same_version_twice_adds_stores_once(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        assert journal.backlog() == {"b": 1, "c": 1}

    def test_mark_done_removes_one_store_and_then_the_entry(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        journal.mark_done("k", "v1", "b")
        assert journal.backlog() == {"c": 1}
        journal.mark_done("k", "v1", "c")
        assert journal.backlog() == {}
        # The entry is gone too: an older version may be journaled again (the replicator's head decides).
        assert journal.append("k", "v0", SHA, 1, "a", ["b"]) is True

    def test_mark_done_of_a_retired_version_is_harmless(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.append("k", "v2", SHA, 1, "a", ["b"])
        journal.mark_done("k", "v1", "b")
        assert [(i.version, i.store) for i in journal.pending()] == [("v2", "b")]

    def test_item_is_pending_until_it_is_done(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        assert (journal.is_pending("k", "v1", "b"), journal.is_pending("k", "v1", "a")) == (True, False)
        journal.mark_done("k", "v1", "b")
        assert (journal.is_pending("k", "v1", "b"), journal.is_pending("k", "v1", "c")) == (False, True)

    def test_item_retired_by_a_newer_version_or_a_tombstone_is_no_longer_pending(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.append("k", "v2", None, 0, "b", ["a"], Op.DELETE)
        assert journal.is_pending("k", "v1", "b") is False, "a put the tombstone retired still counts as pending"
        assert journal.is_pending("k", "v2", "a") is True

    def test_item_waiting_for_a_retry_is_still_pending(self, journal: ListedJournal, wall: ManualWall) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.reschedule("k", "v1", "b", wall.seconds + 60, "down")
        assert journal.is_pending("k", "v1", "b") is True

    def test_reschedule_counts_the_attempt_and_hides_the_item_until_due(
        self, journal: ListedJournal, wall: ManualWall
    ) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        journal.reschedule("k", "v1", "b", next_attempt=wall.seconds + 30, error="refused")
        assert [i.store for i in journal.pending()] == ["c"]
        wall.seconds += 30
        item = next(i for i in journal.pending() if i.store == "b")
        assert (item.attempts, item.last_error, item.next_attempt) == (1, "refused", 1030.0)

    def test_pending_at_an_explicit_time(self, journal: ListedJournal, wall: ManualWall) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        assert journal.pending(now=wall.seconds - 1) == []
        assert len(journal.pending(now=wall.seconds)) == 1

    def test_newest_pending_names_the_stores_that_may_be_stale(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        journal.mark_done("k", "v1", "c")
        assert journal.newest_pending("k") == frozenset({"b"})
        assert journal.newest_pending("other") == frozenset()

    def test_newest_pending_counts_items_waiting_for_a_retry(self, journal: ListedJournal, wall: ManualWall) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.reschedule("k", "v1", "b", next_attempt=wall.seconds + 3600)
        assert journal.newest_pending("k") == frozenset({"b"})

    def test_backlog_counts_per_store(self, journal: ListedJournal) -> None:
        journal.append("k1", "v1", SHA, 1, "a", ["b", "c"])
        journal.append("k2", "v1", SHA, 1, "a", ["b"])
        assert journal.backlog() == {"b": 2, "c": 1}

    def test_items_lists_a_keys_pending_items_due_or_not(self, journal: ListedJournal, wall: ManualWall) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.reschedule("k", "v1", "b", next_attempt=wall.seconds + 60)
        assert [(i.version, i.store) for i in journal.items("k")] == [("v1", "b")]

    def test_concurrent_appends_from_threads_all_land(self, journal: ListedJournal) -> None:
        def work(n: int) -> None:
            for i in range(25):
                journal.append(f"t{n}-{i}", "v1", SHA, 1, "a", ["b"])

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert journal.backlog() == {"b": 100}

    def test_rows_survive_closing_and_reopening(self, open_journal: OpenJournal) -> None:
        first = open_journal()
        first.append("k", "v1", SHA, 1, "a", ["b"])
        first.close()
        second = open_journal()
        assert [(i.key, i.store) for i in second.pending()] == [("k", "b")]

    def test_two_journals_on_one_file_see_each_others_appends(self, open_journal: OpenJournal) -> None:
        one, two = open_journal(), open_journal()
        one.append("k", "v1", SHA, 1, "a", ["b"])
        two.append("k", "v2", SHA, 1, "a", ["b"])
        assert [i.version for i in one.pending()] == ["v2"]

    # -- the outbox: intents before the store write ----------------------------------------------------

    def test_intent_is_listed_once_its_lease_ran_out(self, journal: ListedJournal, wall: ManualWall) -> None:
        journal.intend("k", "v1", SHA, 3, ["b", "a"], lease=10)
        assert journal.intents(expired_by=wall.seconds + 9) == []
        assert journal.intents(expired_by=wall.seconds + 10) == [
            Intent("k", "v1", SHA, 3, Op.PUT, ("a", "b"), wall.seconds + 10)
        ]

    def test_intent_is_neither_pending_nor_stale(self, journal: ListedJournal) -> None:
        journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=10)
        assert (journal.pending(), journal.backlog(), journal.newest_pending("k")) == ([], {}, frozenset())
        assert journal.newest_under("") == []

    def test_append_clears_the_intent_of_its_version_only(self, journal: ListedJournal) -> None:
        journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=0)
        journal.intend("k", "v2", None, 0, ["a", "b"], Op.DELETE, lease=0)
        journal.append("k", "v1", SHA, 1, "a", ["b"], timeout=5)
        assert [(i.version, i.op) for i in journal.intents(expired_by=FOREVER)] == [("v2", Op.DELETE)]

    def test_abandon_drops_the_intent(self, journal: ListedJournal) -> None:
        journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=0, timeout=5)
        journal.abandon("k", "v1", timeout=5)
        assert journal.intents(expired_by=FOREVER) == []
        assert journal.backlog() == {}

    def test_intending_again_renews_the_lease(self, journal: ListedJournal, wall: ManualWall) -> None:
        journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=1)
        journal.intend("k", "v1", SHA, 1, ["a", "b"], lease=60)
        assert journal.intents(expired_by=wall.seconds + 30) == []

    def test_intents_are_oldest_version_first_up_to_the_limit(self, journal: ListedJournal) -> None:
        for key, version in (("x", "v3"), ("y", "v1"), ("z", "v2")):
            journal.intend(key, version, SHA, 1, ["a"], lease=0)
        assert [i.key for i in journal.intents(expired_by=FOREVER, limit=2)] == ["y", "z"]

    def test_intents_are_seen_by_another_journal_on_the_same_record(self, open_journal: OpenJournal) -> None:
        one, two = open_journal(), open_journal()
        one.intend("k", "v1", SHA, 1, ["a", "b"], lease=0)
        assert [i.key for i in two.intents(expired_by=FOREVER)] == ["k"]

    # -- dead letters ----------------------------------------------------------------------------------

    def test_dead_letter_is_neither_pending_nor_backlog_but_still_stale(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        journal.dead_letter("k", "v1", "b", "source_missing")
        assert [i.store for i in journal.pending(now=FOREVER)] == ["c"]
        assert journal.backlog() == {"c": 1}
        assert journal.is_pending("k", "v1", "b") is False
        assert journal.newest_pending("k") == frozenset({"b", "c"}), "b still lacks the version"

    def test_dead_letters_list_the_given_up_items_with_attempts_and_error(self, journal: ListedJournal) -> None:
        journal.append("k", "v2", SHA, 1, "a", ["b"])
        journal.append("j", "v1", SHA, 1, "a", ["b"])
        journal.reschedule("k", "v2", "b", 0.0, "refused")
        journal.dead_letter("k", "v2", "b", "source_missing")
        journal.dead_letter("j", "v1", "b")
        items = [(i.key, i.attempts, i.last_error) for i in journal.dead_letters()]
        assert items == [("j", 1, None), ("k", 2, "source_missing")]
        assert [i.key for i in journal.dead_letters(limit=1)] == ["j"]

    def test_revive_makes_dead_letters_due_again(self, journal: ListedJournal, wall: ManualWall) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b", "c"])
        journal.reschedule("k", "v1", "b", wall.seconds + 3600, "refused")
        journal.dead_letter("k", "v1", "b")
        journal.dead_letter("k", "v1", "c")
        assert journal.revive("b") == 1
        (item,) = journal.pending(now=wall.seconds)
        assert (item.store, item.attempts) == ("b", 0)
        assert journal.revive() == 1
        assert journal.dead_letters() == []
        assert journal.backlog() == {"b": 1, "c": 1}

    def test_newer_version_retires_a_dead_letter(self, journal: ListedJournal) -> None:
        journal.append("k", "v1", SHA, 1, "a", ["b"])
        journal.dead_letter("k", "v1", "b", "source_missing")
        journal.append("k", "v2", SHA, 1, "a", ["b"])
        assert journal.dead_letters() == []
        assert [(i.version, i.store) for i in journal.pending(now=FOREVER)] == [("v2", "b")]

    # -- listings and ordering -------------------------------------------------------------------------

    def test_newest_under_gives_the_newest_pending_version_of_each_key_under_a_prefix(
        self, journal: ListedJournal
    ) -> None:
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

    def test_newest_under_includes_items_not_due_and_dead_letters(
        self, journal: ListedJournal, wall: ManualWall
    ) -> None:
        journal.append("p/1", "v1", SHA, 1, "a", ["b"])
        journal.append("p/2", "v1", SHA, 1, "a", ["b"])
        journal.reschedule("p/1", "v1", "b", wall.seconds + 3600)
        journal.dead_letter("p/2", "v1", "b")
        assert [item.key for item in journal.newest_under("p/")] == ["p/1", "p/2"]

    def test_keys_are_listed_in_code_point_order(self, journal: ListedJournal) -> None:
        for key in ("p/é", "p/a", "p/Z", "p/-b", "p/a b"):
            journal.append(key, "v1", SHA, 1, "a", ["b"])
        assert [item.key for item in journal.newest_under("p/")] == ["p/-b", "p/Z", "p/a", "p/a b", "p/é"]

    def test_versions_compare_by_code_point(self, journal: ListedJournal) -> None:
        # Stamps are compared as strings, byte for byte: "1-b" is older than "1a" ("-" < "a").
        journal.append("k", "1a", SHA, 1, "a", ["b"])
        assert journal.append("k", "1-b", SHA, 1, "a", ["b"]) is False
        assert [i.version for i in journal.pending()] == ["1a"]

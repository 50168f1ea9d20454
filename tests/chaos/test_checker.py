"""The chaos checker on hand-made histories: it must see each anomaly it claims to count.

A checker that never fails proves nothing; these pin what it calls lost, stale, duplicated and
processed twice, and what it forgives (writes and sends whose outcome is unknown).
"""

from __future__ import annotations

import dataclasses

from failover.errors import AllProvidersFailed, OutcomeUnknown, ProviderUnavailable
from failover.testing.chaos import Event, Kind, Outcome, check_queue, check_storage
from failover.testing.chaos._history import classify_failure

OK, FAILED, UNKNOWN = Outcome.OK, Outcome.FAILED, Outcome.INDETERMINATE
STORES = ("aws", "gcp", "azure")


def event(
    kind: Kind, key: str, start: int, end: int, outcome: Outcome = OK, digest: str | None = None, version: str = ""
) -> Event:
    return Event(0, "writer-0", kind, key, digest, version or None, start, end, outcome)


def put(key: str, start: int, end: int, name: str, outcome: Outcome = OK) -> Event:
    return event(Kind.PUT, key, start, end, outcome, digest=f"sha-{name}", version=f"v-{name}")


def everywhere(
    held: tuple[str, str] | None, key: str = "k"
) -> dict[str, dict[str, tuple[str | None, str | None] | None]]:
    return {store: {key: held} for store in STORES}


def test_every_store_holding_the_last_acknowledged_put_is_no_loss() -> None:
    verdict = check_storage([put("k", 1, 2, "a"), put("k", 3, 4, "b")], ["k"], everywhere(("v-b", "sha-b")))
    assert (verdict.lost_keys, verdict.diverged) == (0, 0)


def test_a_store_holding_an_older_version_lost_the_acknowledged_write() -> None:
    final = everywhere(("v-b", "sha-b"))
    final["gcp"]["k"] = ("v-a", "sha-a")
    verdict = check_storage([put("k", 1, 2, "a"), put("k", 3, 4, "b")], ["k"], final)
    assert (verdict.lost_keys, verdict.lost_puts, verdict.diverged) == (1, 1, 1)
    assert [store.lost for store in verdict.stores] == [0, 1, 0]
    assert verdict.suspects == [("k", 3, None)]


def test_a_deleted_key_that_came_back_on_one_store_is_a_lost_delete() -> None:
    final = everywhere(None)
    final["aws"]["k"] = ("v-a", "sha-a")
    verdict = check_storage([put("k", 1, 2, "a"), event(Kind.DELETE, "k", 3, 4)], ["k"], final)
    assert (verdict.lost_keys, verdict.lost_deletes) == (1, 1)


def test_a_later_write_of_unknown_outcome_may_be_there_or_not() -> None:
    history = [put("k", 1, 2, "a"), put("k", 3, 4, "b", UNKNOWN)]
    final = everywhere(("v-a", "sha-a"))
    final["aws"]["k"] = ("v-b?", "sha-b")  # the version of a write that raised is not known: its sha256 names it
    verdict = check_storage(history, ["k"], final)
    assert (verdict.lost_keys, verdict.diverged, verdict.phantoms) == (0, 1, 0)


def test_a_write_reported_failed_that_a_store_holds_is_a_phantom_not_a_loss() -> None:
    verdict = check_storage([put("k", 1, 2, "a"), put("k", 3, 4, "b", FAILED)], ["k"], everywhere(("x", "sha-b")))
    assert (verdict.lost_keys, verdict.phantoms) == (0, 1)


def test_of_two_overlapping_acknowledged_puts_either_may_win_but_not_an_earlier_one() -> None:
    history = [put("k", 1, 2, "a"), put("k", 3, 6, "b"), put("k", 4, 7, "c")]
    final = everywhere(("v-b", "sha-b"))
    final["gcp"]["k"] = ("v-c", "sha-c")
    verdict = check_storage(history, ["k"], final)
    assert (verdict.lost_keys, verdict.diverged) == (0, 1)
    final["azure"]["k"] = ("v-a", "sha-a")
    assert check_storage(history, ["k"], final).lost_keys == 1


def test_a_read_of_a_version_overwritten_before_it_began_is_stale() -> None:
    history = [put("k", 1, 2, "a"), put("k", 3, 4, "b"), event(Kind.GET, "k", 5, 6, digest="sha-a", version="v-a")]
    verdict = check_storage(history, ["k"], everywhere(("v-b", "sha-b")))
    assert verdict.stale_reads == 1
    assert verdict.suspects == [("k", 3, 6)]


def test_a_read_overlapping_an_overwrite_may_return_either_version() -> None:
    history = [
        put("k", 1, 2, "a"),
        put("k", 3, 8, "b"),
        event(Kind.GET, "k", 4, 5, digest="sha-a"),
        event(Kind.GET, "k", 6, 7, digest="sha-b"),
    ]
    assert check_storage(history, ["k"], everywhere(("v-b", "sha-b"))).stale_reads == 0


def test_a_read_that_finds_nothing_after_an_acknowledged_put_is_stale() -> None:
    history = [put("k", 1, 2, "a"), event(Kind.GET, "k", 3, 4)]
    assert check_storage(history, ["k"], everywhere(("v-a", "sha-a"))).stale_reads == 1


def test_a_read_that_finds_nothing_after_a_delete_or_during_one_is_fine() -> None:
    history = [
        put("k", 1, 2, "a"),
        event(Kind.DELETE, "k", 3, 6, UNKNOWN),
        event(Kind.GET, "k", 4, 5),
        event(Kind.GET, "k", 7, 8),
    ]
    assert check_storage(history, ["k"], everywhere(None)).stale_reads == 0


def test_a_read_of_a_value_nobody_wrote_is_counted() -> None:
    history = [put("k", 1, 2, "a"), event(Kind.GET, "k", 3, 4, digest="sha-zzz")]
    assert check_storage(history, ["k"], everywhere(("v-a", "sha-a"))).unknown_reads == 1


def send(key: str, outcome: Outcome = OK) -> Event:
    return event(Kind.SEND, key, 1, 2, outcome, digest=f"body-{key}")


def handed(key: str, at: int) -> Event:
    return event(Kind.RECEIVE, key, at, at + 1, digest=f"body-{key}")


def ack(key: str, at: int, outcome: Outcome = OK) -> Event:
    return event(Kind.ACK, key, at, at + 1, outcome)


def test_an_acknowledged_send_never_handed_out_is_lost() -> None:
    verdict = check_queue([send("m1"), send("m2"), handed("m1", 3), ack("m1", 5)], {"m1": 1})
    assert (verdict.sent_ok, verdict.lost) == (2, 1)


def test_a_send_of_unknown_outcome_may_never_arrive() -> None:
    assert check_queue([send("m1", UNKNOWN)], {}).lost == 0


def test_a_message_handed_out_again_after_its_ack_was_processed_twice() -> None:
    verdict = check_queue([send("m1"), handed("m1", 3), ack("m1", 5), handed("m1", 7), ack("m1", 9)], {"m1": 2})
    assert (verdict.processed_twice, verdict.duplicated) == (1, 1)


def test_a_redelivery_after_a_failed_ack_is_expected() -> None:
    history = [send("m1"), handed("m1", 3), ack("m1", 5, FAILED), handed("m1", 7), ack("m1", 9)]
    verdict = check_queue(history, {"m1": 2})
    assert (verdict.processed_twice, verdict.redelivered, verdict.lost) == (0, 1, 0)


def test_duplicates_are_what_the_queues_delivered_before_dedup() -> None:
    verdict = check_queue([send("m1"), send("m2"), handed("m1", 3), handed("m2", 5)], {"m1": 3, "m2": 1})
    assert (verdict.duplicated, verdict.processed_twice) == (1, 0)


def test_an_error_with_an_unknown_outcome_anywhere_makes_the_call_indeterminate() -> None:
    refused = ProviderUnavailable("refused")
    assert classify_failure(refused) is FAILED
    assert classify_failure(AllProvidersFailed("all", errors=[refused, refused])) is FAILED
    assert classify_failure(AllProvidersFailed("all", errors=[refused, OutcomeUnknown("lost")])) is UNKNOWN
    assert classify_failure(RuntimeError("a bug")) is UNKNOWN


def test_a_receive_or_ack_that_failed_while_one_queue_provider_was_up_is_counted() -> None:
    failed_ack = dataclasses.replace(ack("m1", 5, FAILED), broken="aws:hang")
    failed_receive = dataclasses.replace(event(Kind.RECEIVE, "", 6, 7, FAILED), broken="aws:dns+gcp:503")
    both_down = dataclasses.replace(event(Kind.RECEIVE, "", 8, 9, FAILED), broken="aws:hang+azure:refused")
    verdict = check_queue([send("m1"), handed("m1", 3), failed_ack, failed_receive, both_down], {"m1": 1})
    assert verdict.failed_while_healthy == 2, verdict.details

"""FailoverStorage writes: stamps, the journal before the ack, ambiguous writes, mirror quorum, tombstones."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import BinaryIO, cast

import pytest

from failover.errors import AllProvidersFailed, InvalidRequest, PreconditionFailed
from failover.health import HealthState
from failover.replication import Op, VersionStamp
from failover.testing.faulty import refused, timed_out
from tests.unit.storage_rig import SETTINGS, OneWay, Rig, rig


@pytest.fixture
def two() -> Iterator[Rig]:
    yield from rig()


@pytest.fixture
def mirror() -> Iterator[Rig]:
    yield from rig(mode="mirror", write_quorum=2)


def test_primary_put_is_acked_by_the_first_store_with_the_others_journaled(two: Rig) -> None:
    info = two.storage.put("k", b"payload", metadata={"team": "a"}, content_type="text/plain")
    assert info.version is not None
    assert info.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert two.held_by("k") == {"aws": info.version, "gcp": None}
    assert two.storage.journal.newest_pending("k") == {"gcp"}
    stats = two.storage.drain()
    assert stats.copied == 1
    copied = two.gcp.inner.head("k")
    assert (copied.version, copied.sha256, dict(copied.metadata), copied.content_type) == (
        info.version,
        info.sha256,
        {"team": "a"},
        "text/plain",
    )
    assert two.storage.journal.backlog() == {}


def test_every_put_gets_a_newer_stamp_of_this_writer() -> None:
    made = Rig(writer_id="writer-7")
    versions = [made.storage.put("k", b"%d" % n).version for n in range(5)]
    stamps = [VersionStamp.parse(version or "") for version in versions]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 5
    assert {stamp.writer_id for stamp in stamps} == {"writer-7"}
    made.close()


def test_put_during_an_outage_lands_on_the_next_store_and_replays_after_recovery(two: Rig) -> None:
    two.aws.fail(refused())
    info = two.storage.put("k", b"written during the outage")
    assert two.held_by("k") == {"aws": None, "gcp": info.version}
    assert two.storage.journal.newest_pending("k") == {"aws"}
    stats = two.storage.drain()  # a drain tries a store its health calls DOWN, once
    assert (stats.copied, two.storage.journal.backlog()) == (0, {"aws": 1}), "the item was lost"
    two.recover("aws")
    assert two.storage.drain().copied == 1
    assert two.held_by("k") == {"aws": info.version, "gcp": info.version}


def test_outcome_unknown_write_that_happened_is_found_up_to_date_by_the_replicator(two: Rig) -> None:
    two.aws.fail(timed_out(), "put", times=1, after=True)  # stored, then the answer was lost
    info = two.storage.put("k", b"ambiguous")
    assert two.gcp.calls["put"] == 1, "the write did not go on to the next store"
    assert two.held_by("k") == {"aws": info.version, "gcp": info.version}
    assert two.storage.journal.newest_pending("k") == {"aws"}, "the uncertain store was not journaled"
    two.aws.reset_counts()
    stats = two.storage.drain()  # right after the failure: a drain does not wait for the health
    assert (stats.up_to_date, stats.copied) == (1, 0), "the replicator rewrote a version the store had"
    assert two.aws.calls["put"] == 0
    assert two.storage.journal.backlog() == {}


def test_outcome_unknown_write_that_did_not_happen_is_copied_by_the_replicator(two: Rig) -> None:
    two.aws.fail(timed_out(), "put", times=1)
    info = two.storage.put("k", b"lost on the way")
    assert two.held_by("k") == {"aws": None, "gcp": info.version}
    assert two.storage.journal.newest_pending("k") == {"aws"}
    two.clock.advance(SETTINGS.background_pause)
    assert two.storage.drain().copied == 1
    assert two.held_by("k") == {"aws": info.version, "gcp": info.version}


def test_outcome_unknown_everywhere_is_not_reported_as_success(two: Rig) -> None:
    two.aws.fail(timed_out(), "put", after=True)
    two.gcp.fail(refused())
    with pytest.raises(AllProvidersFailed) as caught:
        two.storage.put("k", b"maybe")
    assert [type(error).__name__ for error in caught.value.errors] == ["OutcomeUnknown", "ProviderUnavailable"]


def test_non_seekable_stream_is_sent_again_after_a_failover(two: Rig) -> None:
    two.aws.fail(timed_out(), "put", times=1, after=True)  # the first attempt consumed the stream
    stream = OneWay(b"x" * 3_000_000)
    info = two.storage.put("big", cast(BinaryIO, io.BufferedReader(stream)))
    assert two.gcp.inner.get_bytes("big") == b"x" * 3_000_000, "the second store got a partial body"
    assert two.aws.inner.get_bytes("big") == b"x" * 3_000_000
    assert info.size == 3_000_000


def test_seekable_file_is_sent_from_its_position_on_every_attempt(two: Rig) -> None:
    two.aws.fail(timed_out(), "put", times=1, after=True)
    body = io.BytesIO(b"header|the body")
    body.seek(7)
    two.storage.put("k", body)
    assert two.held_by("k")["gcp"] is not None
    assert two.gcp.inner.get_bytes("k") == b"the body"
    assert two.aws.inner.get_bytes("k") == b"the body"


def test_condition_is_checked_by_the_store_that_takes_the_write(two: Rig) -> None:
    first = two.storage.put("k", b"v1")
    with pytest.raises(PreconditionFailed):
        two.storage.put("k", b"v2", if_none_match="*")
    second = two.storage.put("k", b"v2", if_match=first.etag)
    assert two.aws.inner.get_bytes("k") == b"v2"
    with pytest.raises(PreconditionFailed):
        two.storage.put("k", b"v3", if_match=first.etag)
    assert two.gcp.calls["put"] == 0, "a failed condition was failed over"
    assert second.version is not None


def test_mirror_put_writes_every_store_and_journals_nothing(mirror: Rig) -> None:
    info = mirror.storage.put("k", b"both")
    assert mirror.held_by("k") == {"aws": info.version, "gcp": info.version}
    assert mirror.storage.journal.backlog() == {}


def test_mirror_put_below_quorum_fails_but_keeps_and_journals_the_copy(mirror: Rig) -> None:
    mirror.aws.fail(refused())
    with pytest.raises(AllProvidersFailed, match="1 of the 2"):
        mirror.storage.put("k", b"one copy")
    held = mirror.held_by("k")
    assert held["aws"] is None
    assert held["gcp"] is not None, "the successful copy was not kept"
    assert mirror.storage.journal.newest_pending("k") == {"aws"}
    mirror.recover("aws")
    mirror.storage.drain()
    assert mirror.held_by("k") == {"aws": held["gcp"], "gcp": held["gcp"]}


def test_mirror_put_that_needs_a_down_store_tries_it_once_as_a_last_resort(mirror: Rig) -> None:
    mirror.aws.fail(refused())
    with pytest.raises(AllProvidersFailed):
        mirror.storage.put("k", b"x")
    mirror.aws.reset_counts()
    with pytest.raises(AllProvidersFailed, match="1 of the 2"):
        mirror.storage.put("k2", b"y")
    assert mirror.aws.total_calls == 1, "the quorum needed aws: it gets one attempt, however its circuit stands"


def test_mirror_put_reaches_its_quorum_on_a_healed_store_whose_circuit_is_still_open(mirror: Rig) -> None:
    mirror.aws.fail(refused())
    with pytest.raises(AllProvidersFailed):
        mirror.storage.put("k", b"x")
    assert mirror.state("aws") is HealthState.DOWN
    mirror.aws.heal()
    info = mirror.storage.put("k2", b"y")
    assert mirror.held_by("k2") == {"aws": info.version, "gcp": info.version}


def test_mirror_quorum_reached_without_a_failed_store_acks_and_journals_it() -> None:
    made = Rig(("aws", "gcp", "azure"), mode="mirror")
    made.azure.fail(timed_out(), "put")
    info = made.storage.put("k", b"two of three")
    held = made.held_by("k")
    assert held == {"aws": info.version, "gcp": info.version, "azure": None}
    assert made.storage.journal.newest_pending("k") == {"azure"}
    made.close()


def test_mirror_quorum_of_one_acks_a_single_copy() -> None:
    made = Rig(mode="mirror", write_quorum=1)
    made.aws.fail(refused())
    info = made.storage.put("k", b"one is enough")
    assert made.held_by("k") == {"aws": None, "gcp": info.version}
    assert made.storage.journal.newest_pending("k") == {"aws"}
    made.close()


def test_mirror_conditional_write_is_checked_on_the_first_store_only(mirror: Rig) -> None:
    mirror.storage.put("k", b"v1")
    with pytest.raises(PreconditionFailed):
        mirror.storage.put("k", b"v2", if_none_match="*")
    assert mirror.gcp.calls["put"] == 1, "the second store was written although the condition failed"
    etag = mirror.aws.inner.head("k").etag
    info = mirror.storage.put("k", b"v2", if_match=etag)
    assert mirror.held_by("k") == {"aws": info.version, "gcp": info.version}


def test_mirror_stream_is_read_by_parallel_attempts_without_mixing_bytes() -> None:
    made = Rig(("aws", "gcp", "azure"), mode="mirror", write_quorum=3)
    data = bytes(range(256)) * 20_000
    made.storage.put("k", cast(BinaryIO, io.BufferedReader(OneWay(data))))
    for store in made.stores.values():
        assert store.inner.get_bytes("k") == data, f"{store.name} got other bytes"
    made.close()


def test_delete_is_a_tombstone_replayed_to_the_others(two: Rig) -> None:
    two.storage.put("k", b"v")
    two.storage.drain()
    two.storage.delete("k")
    assert two.held_by("k")["aws"] is None
    (item,) = two.storage.journal.items("k")  # type: ignore[attr-defined]
    assert (item.op, item.store) == (Op.DELETE, "gcp")
    assert two.storage.drain().deleted == 1
    assert two.held_by("k") == {"aws": None, "gcp": None}


def test_delete_during_an_outage_is_replayed_after_recovery(two: Rig) -> None:
    two.storage.put("k", b"v")
    two.storage.drain()
    two.aws.fail(refused())
    two.storage.delete("k")
    assert two.held_by("k")["gcp"] is None
    assert two.held_by("k")["aws"] is not None
    two.recover("aws")
    assert two.storage.drain().deleted == 1
    assert two.held_by("k") == {"aws": None, "gcp": None}


def test_mirror_delete_deletes_everywhere(mirror: Rig) -> None:
    mirror.storage.put("k", b"v")
    mirror.storage.delete("k")
    assert mirror.held_by("k") == {"aws": None, "gcp": None}
    assert mirror.storage.journal.backlog() == {}


def test_copy_is_a_new_version_with_the_same_bytes_and_metadata(two: Rig) -> None:
    source = two.storage.put("src", b"copied", metadata={"origin": "src"}, content_type="text/csv")
    copied = two.storage.copy("src", "dst")
    assert copied.key == "dst"
    assert copied.sha256 == source.sha256
    assert (copied.version or "") > (source.version or ""), "the copy kept the source's stamp"
    head = two.storage.head("dst")
    assert (dict(head.metadata), head.content_type) == ({"origin": "src"}, "text/csv")
    assert two.storage.journal.newest_pending("dst") == {"gcp"}


def test_copy_over_a_newer_key_wins_on_every_store(two: Rig) -> None:
    two.storage.put("old", b"old bytes")
    two.storage.put("dst", b"newer bytes")
    two.storage.drain()
    two.storage.copy("old", "dst")
    two.storage.drain()
    assert two.aws.inner.get_bytes("dst") == two.gcp.inner.get_bytes("dst") == b"old bytes"


def test_reserved_metadata_from_the_caller_is_refused(two: Rig) -> None:
    with pytest.raises(InvalidRequest) as caught:
        two.storage.put("k", b"v", metadata={"failover_version": "forged"})
    assert caught.value.rule == "metadata.reserved"

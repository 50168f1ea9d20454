"""FailoverStorage's etag is the version stamp: the same whichever store answers, so that a
compare-and-swap loop keeps working when the next write lands on another cloud."""

from __future__ import annotations

import pytest

from failover.errors import PreconditionFailed
from failover.testing.faulty import refused
from tests.unit.storage_rig import Rig


def test_the_etag_is_the_same_whichever_store_answers() -> None:
    rig = Rig()
    put = rig.storage.put("k", b"v1")
    rig.storage.drain()
    from_aws = rig.storage.head("k")
    rig.aws.fail(refused())
    from_gcp = rig.storage.head("k")
    assert put.etag == from_aws.etag == from_gcp.etag, (put.etag, from_aws.etag, from_gcp.etag)
    assert put.etag == put.version, "the etag is not the version stamp"
    assert (from_aws.store, from_gcp.store) == ("aws", "gcp"), "ObjectInfo does not say which store answered"


def test_compare_and_swap_keeps_working_when_the_write_fails_over() -> None:
    rig = Rig()
    first = rig.storage.put("counter", b"1")
    rig.storage.drain()
    rig.aws.fail(refused())  # the next write lands on GCS
    second = rig.storage.put("counter", b"2", if_match=first.etag)
    assert rig.gcp.inner.get_bytes("counter") == b"2"
    with pytest.raises(PreconditionFailed):
        rig.storage.put("counter", b"3", if_match=first.etag)  # a stale etag still loses, on GCS too
    assert rig.storage.put("counter", b"3", if_match=second.etag).etag != second.etag


def test_if_match_is_not_checked_on_a_store_that_is_behind() -> None:
    # aws holds v1 only (v2 is pending there): the condition is checked on gcp, which has v2.
    rig = Rig()
    rig.storage.put("k", b"v1")
    rig.storage.drain()
    rig.aws.fail(refused(), "put", times=1)
    newest = rig.storage.put("k", b"v2")
    assert rig.held_by("k")["aws"] != newest.version, "the rig did not leave aws behind"
    rig.aws.heal()
    third = rig.storage.put("k", b"v3", if_match=newest.etag)
    assert third.version is not None
    assert rig.storage.get_bytes("k") == b"v3"

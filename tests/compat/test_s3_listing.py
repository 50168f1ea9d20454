"""ListObjectsV2 and ListObjects through the drop-in: S3's order, pages, prefixes and paginators."""

from __future__ import annotations

from typing import Any

from tests.compat.conftest import BUCKET

KEYS = ["a/1", "a/2", "b/1", "c", "d e"]


def _fill(s3: Any) -> None:
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())


def test_list_v2_answers_every_key_in_s3_order(s3: Any) -> None:
    _fill(s3)
    answer = s3.list_objects_v2(Bucket=BUCKET)
    assert [entry["Key"] for entry in answer["Contents"]] == KEYS
    assert (answer["KeyCount"], answer["IsTruncated"]) == (5, False)


def test_list_v2_with_a_delimiter_rolls_up_common_prefixes(s3: Any) -> None:
    _fill(s3)
    answer = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    assert [entry["Prefix"] for entry in answer["CommonPrefixes"]] == ["a/", "b/"]
    assert [entry["Key"] for entry in answer["Contents"]] == ["c", "d e"]


def test_the_v2_paginator_walks_pages_of_max_keys(s3: Any) -> None:
    _fill(s3)
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 2}))
    assert [[entry["Key"] for entry in page["Contents"]] for page in pages] == [KEYS[:2], KEYS[2:4], KEYS[4:]]


def test_the_v1_paginator_walks_pages_by_marker(s3: Any) -> None:
    _fill(s3)
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 2}))
    assert [entry["Key"] for page in pages for entry in page["Contents"]] == KEYS


def test_start_after_skips_the_keys_before_it(s3: Any) -> None:
    _fill(s3)
    answer = s3.list_objects_v2(Bucket=BUCKET, StartAfter="b/1")
    assert [entry["Key"] for entry in answer["Contents"]] == ["c", "d e"]


def test_listed_etags_are_the_s3_etags(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="x", Body=b"x")["ETag"]
    assert s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["ETag"] == etag


def test_an_empty_bucket_lists_no_contents(s3: Any) -> None:
    answer = s3.list_objects_v2(Bucket=BUCKET)
    assert "Contents" not in answer
    assert answer["KeyCount"] == 0


def test_list_buckets_names_the_buckets_given_to_the_client(s3: Any) -> None:
    assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == [BUCKET]

"""S3 object calls answered through FailoverStorage with S3's shapes, ETags and errors (memory stores)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from failover.adapters.memory import MemoryStore
from failover.compat import boto3 as compat
from failover.errors import ProviderUnavailable
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore
from tests.compat.conftest import BUCKET, NOWHERE


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_put_then_get_returns_the_bytes_in_a_streaming_body(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"hello", ContentType="text/plain", Metadata={"Owner": "me"})
    got = s3.get_object(Bucket=BUCKET, Key="a.txt")
    assert isinstance(got["Body"], StreamingBody)
    assert got["Body"].read() == b"hello"
    assert (got["ContentLength"], got["ContentType"], got["Metadata"]) == (5, "text/plain", {"owner": "me"})
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_etag_is_the_quoted_md5_of_the_bytes(s3: Any) -> None:
    put = s3.put_object(Bucket=BUCKET, Key="a", Body=b"hello")
    assert put["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    assert s3.head_object(Bucket=BUCKET, Key="a")["ETag"] == put["ETag"]


def test_etag_is_the_same_when_the_secondary_answers() -> None:
    primary, secondary = FaultyStore(MemoryStore("primary")), MemoryStore("secondary")
    with FailoverStorage([primary, secondary], mode="mirror", replicate=False) as storage:
        client = compat.client("s3", storage={BUCKET: storage}, **NOWHERE)
        put = client.put_object(Bucket=BUCKET, Key="a", Body=b"hello")
        primary.fail()
        assert client.head_object(Bucket=BUCKET, Key="a")["ETag"] == put["ETag"]
        assert client.list_objects_v2(Bucket=BUCKET)["Contents"][0]["ETag"] == put["ETag"]
        assert primary.calls["head"] >= 1  # the primary was asked, failed, and the secondary answered


def test_metadata_hides_the_failover_names(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x", Metadata={"k": "v"})
    assert s3.head_object(Bucket=BUCKET, Key="a")["Metadata"] == {"k": "v"}


def test_get_of_a_missing_key_is_nosuchkey_404(s3: Any) -> None:
    with pytest.raises(s3.exceptions.NoSuchKey) as error:
        s3.get_object(Bucket=BUCKET, Key="missing")
    assert _code(error) == ("NoSuchKey", 404)


def test_head_of_a_missing_key_is_a_bare_404(s3: Any) -> None:
    with pytest.raises(ClientError) as error:
        s3.head_object(Bucket=BUCKET, Key="missing")
    assert _code(error) == ("404", 404)


def test_get_if_match_with_another_etag_is_412(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="a", IfMatch='"0000"')
    assert _code(error) == ("PreconditionFailed", 412)


def test_get_if_none_match_with_the_etag_is_304(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="a", IfNoneMatch=etag)
    assert _code(error)[1] == 304


def test_get_if_modified_since_the_future_is_304(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="a", IfModifiedSince=datetime.now(UTC) + timedelta(days=1))
    assert _code(error)[1] == 304


def test_get_if_unmodified_since_the_past_is_412(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="a", IfUnmodifiedSince=datetime(2000, 1, 1, tzinfo=UTC))
    assert _code(error) == ("PreconditionFailed", 412)


def test_if_match_that_holds_wins_over_if_unmodified_since(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")["ETag"]
    got = s3.get_object(Bucket=BUCKET, Key="a", IfMatch=etag, IfUnmodifiedSince=datetime(2000, 1, 1, tzinfo=UTC))
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_if_none_match_that_holds_wins_over_if_modified_since(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    future = datetime.now(UTC) + timedelta(days=1)
    got = s3.get_object(Bucket=BUCKET, Key="a", IfNoneMatch='"0"', IfModifiedSince=future)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_copy_source_if_none_match_with_the_etag_is_412(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as error:
        s3.copy_object(Bucket=BUCKET, Key="b", CopySource=f"{BUCKET}/a", CopySourceIfNoneMatch=etag)
    assert _code(error) == ("PreconditionFailed", 412)


def test_upload_part_to_an_unknown_upload_is_no_such_upload(s3: Any) -> None:
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.upload_part(Bucket=BUCKET, Key="k", UploadId="unknown", PartNumber=1, Body=b"x")


@pytest.mark.parametrize(
    ("header", "body", "content_range"),
    [("bytes=1-3", b"123", "bytes 1-3/10"), ("bytes=7-", b"789", "bytes 7-9/10"), ("bytes=-2", b"89", "bytes 8-9/10")],
)
def test_range_reads_answer_206_with_the_span(s3: Any, header: str, body: bytes, content_range: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"0123456789")
    got = s3.get_object(Bucket=BUCKET, Key="a", Range=header)
    assert (got["Body"].read(), got["ContentRange"], got["ResponseMetadata"]["HTTPStatusCode"]) == (
        body,
        content_range,
        206,
    )


def test_range_past_the_end_is_invalid_range_416(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"0123")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="a", Range="bytes=10-20")
    assert _code(error) == ("InvalidRange", 416)


def test_put_if_none_match_star_on_an_existing_key_is_412(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    with pytest.raises(ClientError) as error:
        s3.put_object(Bucket=BUCKET, Key="a", Body=b"y", IfNoneMatch="*")
    assert _code(error) == ("PreconditionFailed", 412)


def test_put_if_match_with_the_s3_etag_overwrites(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"y", IfMatch=etag)
    assert s3.get_object(Bucket=BUCKET, Key="a")["Body"].read() == b"y"


def test_delete_objects_reports_each_key(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    assert sorted(entry["Key"] for entry in answer["Deleted"]) == ["a", "b"]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=BUCKET, Key="a")


def test_copy_object_keeps_metadata_and_the_etag(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="a", Body=b"x", Metadata={"k": "v"})["ETag"]
    copied = s3.copy_object(Bucket=BUCKET, Key="b", CopySource={"Bucket": BUCKET, "Key": "a"})
    assert copied["CopyObjectResult"]["ETag"] == etag
    assert s3.head_object(Bucket=BUCKET, Key="b")["Metadata"] == {"k": "v"}


def test_copy_source_if_match_with_another_etag_is_412(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    with pytest.raises(ClientError) as error:
        s3.copy_object(Bucket=BUCKET, Key="b", CopySource=f"{BUCKET}/a", CopySourceIfMatch='"0000"')
    assert _code(error) == ("PreconditionFailed", 412)


def test_all_providers_failed_is_a_503_naming_each_provider() -> None:
    broken = [FaultyStore(MemoryStore("one")), FaultyStore(MemoryStore("two"))]
    for store, provider in zip(broken, ("aws", "gcp"), strict=True):
        store.fail(ProviderUnavailable("connection refused", provider=provider))
    with FailoverStorage(broken, replicate=False) as storage:
        client = compat.client("s3", storage={BUCKET: storage}, **NOWHERE)
        with pytest.raises(ClientError) as error:
            client.get_object(Bucket=BUCKET, Key="a")
    assert _code(error) == ("ServiceUnavailable", 503)
    assert "aws: ProviderUnavailable" in str(error.value)
    assert "gcp: ProviderUnavailable" in str(error.value)

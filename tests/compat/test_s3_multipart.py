"""Multipart uploads through the drop-in: managed transfers, S3's multipart ETag and its errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from failover.adapters.memory import MemoryStore
from failover.compat import boto3 as compat
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore
from tests.compat.conftest import BUCKET, NOWHERE

MiB = 1024 * 1024
PARTS = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=2)
DATA = bytes(range(256)) * (11 * MiB // 256)  # three parts: 5, 5 and 1 MiB


def _multipart_etag(data: bytes, size: int) -> str:
    digests = b"".join(hashlib.md5(data[i : i + size]).digest() for i in range(0, len(data), size))
    return f'"{hashlib.md5(digests).hexdigest()}-{-(-len(data) // size)}"'


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response.get("Error", {}).get("Code"))


def test_upload_file_in_parts_and_download_file_round_trip(s3: Any, tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(DATA)
    s3.upload_file(str(source), BUCKET, "big.bin", Config=PARTS)
    s3.download_file(BUCKET, "big.bin", str(target), Config=PARTS)
    assert target.read_bytes() == DATA


def test_a_multipart_object_has_s3s_md5_dash_n_etag(s3: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(DATA)
    s3.upload_file(str(source), BUCKET, "big.bin", Config=PARTS)
    assert s3.head_object(Bucket=BUCKET, Key="big.bin")["ETag"] == _multipart_etag(DATA, 5 * MiB)


def test_staged_parts_never_show_in_listings(s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="k")
    s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"x")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_list_parts_and_uploads_show_the_open_upload(s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    parts = s3.list_parts(Bucket=BUCKET, Key="k", UploadId=upload_id)["Parts"]
    assert [(part["PartNumber"], part["ETag"], part["Size"]) for part in parts] == [(1, etag, 1)]
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("k", upload_id)]


def test_abort_removes_the_upload(s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    s3.abort_multipart_upload(Bucket=BUCKET, Key="k", UploadId=upload_id)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.list_parts(Bucket=BUCKET, Key="k", UploadId=upload_id)


def test_a_small_part_before_the_last_is_entity_too_small(s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=n, Body=b"x")["ETag"],
        }
        for n in (1, 2)
    ]
    with pytest.raises(ClientError) as error:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert _code(error) == "EntityTooSmall"


def test_a_wrong_part_etag_is_invalid_part(s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    with pytest.raises(ClientError) as error:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="k", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]}
        )
    assert _code(error) == "InvalidPart"


def test_managed_copy_of_a_multipart_object(s3: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(DATA)
    s3.upload_file(str(source), BUCKET, "big.bin", Config=PARTS)
    s3.copy({"Bucket": BUCKET, "Key": "big.bin"}, BUCKET, "copy.bin", Config=PARTS)
    assert s3.get_object(Bucket=BUCKET, Key="copy.bin")["Body"].read() == DATA


def test_upload_file_while_the_primary_is_down_lands_on_the_secondary(tmp_path: Path) -> None:
    primary, secondary = FaultyStore(MemoryStore("primary")), MemoryStore("secondary")
    primary.fail()
    source = tmp_path / "in.bin"
    source.write_bytes(DATA)
    with FailoverStorage([primary, secondary], replicate=False) as storage:
        client = compat.client("s3", storage={BUCKET: storage}, **NOWHERE)
        client.upload_file(str(source), BUCKET, "big.bin", Config=PARTS)
        assert secondary.get_bytes("big.bin") == DATA
        assert [getattr(entry, "key", None) for entry in secondary.list()] == ["big.bin"]  # the staged parts are gone

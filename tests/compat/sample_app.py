"""A small application written against plain boto3, as applications are: it knows nothing of failover.

It uploads files with ``upload_file`` (one in parts), lists them with a paginator, downloads and
checks them, reads with a condition on the ETag, and cleans up with ``delete_objects``; a producer
sends jobs to SQS and a consumer receives and deletes them. Its tests run
it unchanged under `failover.compat.boto3.patch` through an AWS outage.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig

TRANSFER = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)


class SampleApp:
    """Counts every boto3 call it makes and every one that failed."""

    def __init__(self, bucket: str, workdir: Path, **client_kwargs: Any) -> None:
        self.bucket = bucket
        self.workdir = workdir
        self.s3 = boto3.client("s3", **client_kwargs)
        self.sqs = boto3.client("sqs", **client_kwargs)
        self.queue_url = ""
        self.calls = 0
        self.failures: list[str] = []

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        try:
            return function(*args, **kwargs)
        except Exception as exc:  # an application would log it; the test counts it
            self.failures.append(f"{what}: {exc}")
            return None

    def upload(self, name: str, data: bytes) -> None:
        path = self.workdir / name
        path.write_bytes(data)
        self._call(f"upload {name}", self.s3.upload_file, str(path), self.bucket, f"files/{name}", Config=TRANSFER)

    def listed(self) -> list[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = self._call(
            "list", list, paginator.paginate(Bucket=self.bucket, Prefix="files/", PaginationConfig={"PageSize": 2})
        )
        return [entry["Key"] for page in pages or [] for entry in page.get("Contents", [])]

    def download_matches(self, name: str, data: bytes) -> bool:
        target = self.workdir / f"{name}.down"
        self._call(
            f"download {name}", self.s3.download_file, self.bucket, f"files/{name}", str(target), Config=TRANSFER
        )
        return target.exists() and target.read_bytes() == data

    def etag_is_stable(self, name: str, data: bytes) -> bool:
        head = self._call(f"head {name}", self.s3.head_object, Bucket=self.bucket, Key=f"files/{name}")
        if head is None:
            return False
        got = self._call(
            f"get {name}", self.s3.get_object, Bucket=self.bucket, Key=f"files/{name}", IfMatch=head["ETag"]
        )
        size_ok = got is not None and got["Body"].read() == data
        single = len(data) < TRANSFER.multipart_threshold
        return size_ok and (not single or head["ETag"] == f'"{hashlib.md5(data).hexdigest()}"')

    def clean(self, names: list[str]) -> None:
        objects = [{"Key": f"files/{name}"} for name in names]
        self._call("delete", self.s3.delete_objects, Bucket=self.bucket, Delete={"Objects": objects})

    def open_queue(self, name: str) -> None:
        created = self._call("create queue", self.sqs.create_queue, QueueName=name)
        self.queue_url = created["QueueUrl"] if created else ""

    def produce(self, jobs: list[str]) -> None:
        for job in jobs:
            attributes = {"kind": {"DataType": "String", "StringValue": "job"}}
            self._call(
                f"send {job}",
                self.sqs.send_message,
                QueueUrl=self.queue_url,
                MessageBody=job,
                MessageAttributes=attributes,
            )

    def consume(self, expected: int, rounds: int = 20) -> list[str]:
        done: list[str] = []
        for _ in range(rounds):
            if len(done) >= expected:
                break
            answer = self._call(
                "receive",
                self.sqs.receive_message,
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            )
            for message in (answer or {}).get("Messages", []):
                done.append(message["Body"])
                self._call(
                    "delete", self.sqs.delete_message, QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return done

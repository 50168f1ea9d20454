"""The sample boto3 application, unchanged, under `patch()`: no call fails through an AWS outage."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from failover.compat import boto3 as compat
from failover.testing.emulators import LocalClouds
from tests.compat.clouds import aws_through, failover_config
from tests.compat.sample_app import SampleApp

pytestmark = pytest.mark.emulator

FILES = {"small.txt": b"hello", "medium.bin": bytes(range(256)) * 400, "large.bin": bytes(7 * 1024 * 1024)}


def test_the_sample_app_runs_through_an_aws_outage_with_no_failed_call(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    with aws_through(local_clouds, "proxy") as aws:
        boto3.client("s3", **aws.kwargs).create_bucket(Bucket=unique_name)
        with compat.patch(failover_config(local_clouds)):
            app = SampleApp(unique_name, tmp_path, **aws.kwargs)
            app.open_queue(unique_name)
            app.upload("small.txt", FILES["small.txt"])
            app.produce(["before-1", "before-2"])
            assert sorted(app.consume(2)) == ["before-1", "before-2"]
            aws.break_()
            app.produce(["during-1", "during-2", "during-3"])
            for name, data in FILES.items():
                if name != "small.txt":
                    app.upload(name, data)
            listed = app.listed()
            assert app.failures == []
            assert listed == sorted(f"files/{name}" for name in FILES)
            assert all(app.download_matches(name, data) for name, data in FILES.items())
            assert all(app.etag_is_stable(name, data) for name, data in FILES.items())
            app.clean(list(FILES))
            assert app.listed() == []
            assert sorted(app.consume(3)) == ["during-1", "during-2", "during-3"]
        assert app.failures == []
        assert app.calls >= 12


def test_unpatch_restores_plain_boto3(local_clouds: LocalClouds) -> None:
    with compat.patch(failover_config(local_clouds)):
        patched = boto3.client("s3", region_name="us-east-1")
        assert hasattr(patched.meta, "failover_backends")
    plain = boto3.client("s3", region_name="us-east-1")
    assert not hasattr(plain.meta, "failover_backends")


def test_other_services_are_not_touched_by_patch(local_clouds: LocalClouds) -> None:
    with compat.patch(failover_config(local_clouds)):
        assert not hasattr(boto3.client("sts", region_name="us-east-1").meta, "failover_backends")


def test_boto3_resources_fail_over_under_patch(local_clouds: LocalClouds, unique_name: str) -> None:
    with aws_through(local_clouds, "dns") as aws:
        boto3.client("s3", **aws.kwargs).create_bucket(Bucket=unique_name)
        with compat.patch(failover_config(local_clouds)):
            bucket = boto3.resource("s3", **aws.kwargs).Bucket(unique_name)
            aws.break_()
            bucket.put_object(Key="k", Body=b"through a resource")
            assert bucket.Object("k").get()["Body"].read() == b"through a resource"
            assert [summary.key for summary in bucket.objects.all()] == ["k"]


def test_the_swapped_import_offers_resource_session_and_the_rest_of_boto3(
    local_clouds: LocalClouds, unique_name: str
) -> None:
    assert compat.set_stream_logger is boto3.set_stream_logger  # what the drop-in does not cover is boto3's
    with aws_through(local_clouds, "dns") as aws:
        boto3.client("s3", **aws.kwargs).create_bucket(Bucket=unique_name)
        config = failover_config(local_clouds)
        bucket = compat.resource("s3", failover_config=config, **aws.kwargs).Bucket(unique_name)
        sqs = compat.Session(failover_config=config).client("sqs", **aws.kwargs)
        url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
        aws.break_()
        bucket.put_object(Key="k", Body=b"v")
        assert bucket.Object("k").get()["Body"].read() == b"v"
        sqs.send_message(QueueUrl=url, MessageBody="m")
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
        assert [message["Body"] for message in got.get("Messages", [])] == ["m"]

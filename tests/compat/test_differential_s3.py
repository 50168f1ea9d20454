"""The S3 corpus run against moto directly and through the drop-in, healthy and with AWS down.

Every case's observations through the drop-in must equal moto's, field by field, after dropping the
fields `tests.compat.differential` allows to differ. With AWS refused or unresolvable, the drop-in
answers from GCS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from failover.compat import boto3 as compat
from failover.testing.emulators import LocalClouds
from tests.compat.clouds import aws_through, failover_config
from tests.compat.corpus_s3 import S3_CASES
from tests.compat.differential import Case, Recorder, differences

pytestmark = pytest.mark.emulator

MODES = {"healthy": ("proxy", False), "aws-refused": ("proxy", True), "aws-unresolvable": ("dns", True)}


class Baseline:
    """Each case's observations on moto, made once per module, on first use."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket
        self._seen: dict[str, list[Any]] = {}

    def of(self, case: Case) -> list[Any]:
        if case.id not in self._seen:
            record = Recorder()
            case.run(self.client, record, self.bucket)
            self._seen[case.id] = record.observations
        return self._seen[case.id]


@pytest.fixture(scope="module")
def baseline(local_clouds: LocalClouds) -> Baseline:
    client = boto3.client(
        "s3",
        endpoint_url=local_clouds.aws.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"t-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return Baseline(client, bucket)


@pytest.fixture(scope="module", params=list(MODES))
def dropin(request: pytest.FixtureRequest, local_clouds: LocalClouds) -> Iterator[tuple[Any, str]]:
    how, broken = MODES[request.param]
    bucket = f"t-{uuid.uuid4().hex[:10]}"
    with aws_through(local_clouds, how) as aws:
        boto3.client("s3", **aws.kwargs).create_bucket(Bucket=bucket)
        client = compat.client("s3", failover_config=failover_config(local_clouds), **aws.kwargs)
        if broken:
            aws.break_()
        try:
            yield client, bucket
        finally:
            compat.close(client)


@pytest.mark.parametrize("case", S3_CASES, ids=[case.id for case in S3_CASES])
def test_s3_case_answers_as_moto_does(case: Case, dropin: tuple[Any, str], baseline: Baseline) -> None:
    client, bucket = dropin
    record = Recorder()
    case.run(client, record, bucket)
    expected = _renamed(baseline.of(case), baseline.bucket, bucket)
    assert record.observations == expected, "\n".join(differences(expected, record.observations))


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: _renamed(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, old, new) for item in value]
    if isinstance(value, tuple):
        return tuple(_renamed(item, old, new) for item in value)
    return value

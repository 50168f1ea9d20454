"""Region, profile and project come from each SDK's own chain when the configuration leaves them out.

Building an adapter sends no request, so these run without an emulator.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from failover import ConfigError, PubSubQueue, S3Store, SqsQueue
from failover.config import PubSubConfig, S3Config, SqsConfig

ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _region(store: S3Store | SqsQueue) -> str:
    return str(store._clients.get(None).meta.region_name)


@pytest.mark.parametrize("variable", ["AWS_DEFAULT_REGION", "AWS_REGION"])
def test_s3_region_comes_from_the_environment_when_the_config_gives_none(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "eu-central-1")
    store = S3Store(S3Config(bucket="orders", endpoint_url=ENDPOINT))
    try:
        assert _region(store) == "eu-central-1", f"a default region beat {variable}"
    finally:
        store.close()


def test_region_in_the_config_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    queue = SqsQueue(SqsConfig(queue="jobs", endpoint_url=ENDPOINT, region="ap-south-1"))
    try:
        assert _region(queue) == "ap-south-1"
    finally:
        queue.close()


def test_profile_gives_region_and_credentials(tmp_path: Path) -> None:
    (tmp_path / "aws-config").write_text("[profile dr]\nregion = sa-east-1\n", encoding="utf-8")
    (tmp_path / "aws-credentials").write_text(
        "[dr]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n", encoding="utf-8"
    )
    queue = SqsQueue(SqsConfig(queue="jobs", endpoint_url=ENDPOINT, profile="dr"))
    try:
        client = queue._clients.get(None)
        assert client.meta.region_name == "sa-east-1"
        assert client._request_signer._credentials.access_key == "AKIAPROFILE"
    finally:
        queue.close()


def test_unknown_profile_raises_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        S3Store(S3Config(bucket="orders", endpoint_url=ENDPOINT, profile="nowhere"))
    assert caught.value.field == "profile"
    assert "nowhere" in str(caught.value)


def test_sqs_without_any_region_raises_config_error_before_a_call() -> None:
    with pytest.raises(ConfigError) as caught:
        SqsQueue(SqsConfig(queue="jobs", endpoint_url=ENDPOINT))
    assert caught.value.field == "region"


def test_profile_and_keys_together_are_refused() -> None:
    with pytest.raises(ValueError, match="profile or access keys"):
        S3Config(bucket="orders", profile="dr", access_key_id="AKIA", secret_access_key="x")


def test_pubsub_project_comes_from_google_cloud_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-the-environment")
    queue = PubSubQueue(PubSubConfig(topic="jobs", subscription="jobs-sub", endpoint="127.0.0.1:9"))
    try:
        assert queue._topic == "projects/from-the-environment/topics/jobs"
    finally:
        queue.close()


def test_pubsub_without_any_project_raises_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(ConfigError) as caught:
        PubSubQueue(PubSubConfig(topic="jobs", subscription="jobs-sub", endpoint="127.0.0.1:9"))
    assert caught.value.field == "project"

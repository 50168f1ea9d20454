"""Bucket and queue names mapped by name or glob to a template per provider, checked up front."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from failover.compat._mapping import NameMap, NameRejected
from failover.config import FailoverConfig, GcsConfig, PubSubConfig, S3Config
from failover.errors import ConfigError

AWS = {"region": "us-east-1", "access_key_id": "k", "secret_access_key": "s"}
README = Path(__file__).resolve().parents[2] / "README.md"


def _config(**boto3: Any) -> FailoverConfig:
    return FailoverConfig.model_validate(
        {
            "stores": {"gcp": {"kind": "gcs", "bucket": "placeholder"}},
            "queues": {"gcp": {"kind": "pubsub", "topic": "placeholder", "subscription": "placeholder"}},
            "boto3": boto3,
        }
    )


def test_a_glob_maps_a_bucket_to_each_providers_template() -> None:
    names = NameMap(_config(buckets=[{"match": "app-*", "stores": {"gcp": "dr-{bucket}"}}]), AWS)
    stores = names.bucket("app-orders")
    assert stores is not None
    assert [(type(s).__name__, getattr(s, "bucket", None)) for s in stores] == [
        ("S3Config", "app-orders"),
        ("GcsConfig", "dr-app-orders"),
    ]
    assert isinstance(stores[0], S3Config)
    assert stores[0].region == "us-east-1"


def test_an_unmatched_bucket_is_not_mapped() -> None:
    names = NameMap(_config(buckets=[{"match": "app-*", "stores": {"gcp": "dr-{bucket}"}}]), AWS)
    assert names.bucket("other") is None


def test_the_first_matching_entry_wins() -> None:
    config = _config(
        buckets=[
            {"match": "app-logs", "s3": None, "stores": {"gcp": "logs"}},
            {"match": "app-*", "stores": {"gcp": "dr-{bucket}"}},
        ]
    )
    stores = NameMap(config, AWS).bucket("app-logs")
    assert stores is not None
    assert [s.bucket for s in stores if isinstance(s, GcsConfig)] == ["logs"]
    assert len(stores) == 1


def test_a_name_a_provider_cannot_take_is_rejected_naming_the_rule() -> None:
    names = NameMap(_config(buckets=[{"match": "*", "stores": {"gcp": "dr-{bucket}"}}]), AWS)
    with pytest.raises(NameRejected, match="not a valid s3 name"):
        names.bucket("Upper-Case")


def test_a_template_no_name_can_satisfy_is_a_config_error_up_front() -> None:
    with pytest.raises(ConfigError, match=re.escape("stores.gcp")):
        NameMap(_config(buckets=[{"match": "*", "stores": {"gcp": "DR_{bucket}"}}]), AWS)


def test_a_template_naming_an_undefined_store_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nowhere"):
        NameMap(_config(buckets=[{"match": "*", "stores": {"nowhere": "{bucket}"}}]), AWS)


def test_a_template_with_another_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="region"):
        _config(buckets=[{"match": "*", "stores": {"gcp": "{region}-{bucket}"}}])


def test_a_queue_maps_to_a_pubsub_topic_and_subscription() -> None:
    names = NameMap(_config(queues=[{"match": "*", "queues": {"gcp": "dr-{queue}"}}]), AWS)
    queues = names.queue("jobs")
    assert queues is not None
    pubsub = queues[1]
    assert isinstance(pubsub, PubSubConfig)
    assert (pubsub.topic, pubsub.subscription) == ("dr-jobs", "dr-jobs")


def test_the_readme_mapping_parses_and_maps() -> None:
    text = README.read_text(encoding="utf-8").split("## boto3 drop-in", 1)[1]
    block = re.search(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert block is not None, "the README's boto3 drop-in section lost its TOML"
    names = NameMap(FailoverConfig.model_validate(tomllib.loads(block.group(1))), AWS)
    assert names.bucket("app-orders") is not None
    assert names.queue("jobs") is not None


def _account_names(accounts: list[Any], kind: str, listed: list[str]) -> list[str | None]:
    (logical_of,) = [logical_of for config, logical_of in accounts if config.kind == kind]
    return [logical_of(name) for name in listed]


def test_a_providers_bucket_names_map_back_through_the_template_of_the_first_matching_entry() -> None:
    names = NameMap(
        _config(
            buckets=[
                {"match": "app-*", "stores": {"gcp": "dr-{bucket}"}},
                {"match": "*", "stores": {"gcp": "all-{bucket}-x"}},
            ]
        ),
        AWS,
    )
    listed = ["dr-app-orders", "dr-logs", "all-logs-x", "all-app-orders-x", "unrelated"]
    assert _account_names(names.bucket_accounts(), "gcs", listed) == ["app-orders", None, "logs", None, None]


def test_the_callers_s3_keeps_its_unmapped_bucket_names() -> None:
    names = NameMap(_config(buckets=[{"match": "app-*", "s3": "prod-{bucket}"}]), AWS)
    assert _account_names(names.bucket_accounts(), "s3", ["prod-app-a", "other"]) == ["app-a", "other"]


def test_a_providers_queue_names_map_back_to_the_applications() -> None:
    names = NameMap(_config(queues=[{"match": "jobs-*", "queues": {"gcp": "dr-{queue}"}}]), AWS)
    assert _account_names(names.queue_accounts(), "pubsub", ["dr-jobs-1", "dr-other", "jobs-1"]) == [
        "jobs-1",
        None,
        None,
    ]

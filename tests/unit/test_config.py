"""Configuration: TOML, .env and FAILOVER__ variables, errors that name the field, secrets that never show."""

from __future__ import annotations

import logging
import tracemalloc
from pathlib import Path

import pytest

from failover.config import (
    AzureBlobConfig,
    FailoverConfig,
    GcsConfig,
    PubSubConfig,
    S3Config,
    SqsConfig,
    load_config,
    parse_config,
)
from failover.errors import ConfigError

SECRET = "wJalrXUtnFEMI-K7MDENG-SECRETVALUE"
CONNECTION = f"DefaultEndpointsProtocol=http;AccountName=dev;AccountKey={SECRET};BlobEndpoint=http://127.0.0.1:1/dev;"

TOML = """
[stores.aws]
kind = "s3"
bucket = "orders"
region = "eu-west-1"

[stores.gcp]
kind = "gcs"
bucket = "orders-replica"
read_timeout = 5

[queues.aws]
kind = "sqs"
queue = "jobs"

[queues.gcp]
kind = "pubsub"
project = "proj"
topic = "jobs"
subscription = "jobs-sub"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


def _raised(path: Path | None = None, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    return caught.value


def test_toml_file_loads_stores_and_queues_by_name_in_order(config_file: Path) -> None:
    config = load_config(config_file, env={})
    assert list(config.stores) == ["aws", "gcp"], "the stores' order (their priority) was not kept"
    assert [type(queue) for queue in config.queues.values()] == [SqsConfig, PubSubConfig]
    s3, gcs = config.stores.values()
    assert isinstance(s3, S3Config)
    assert (s3.bucket, s3.region) == ("orders", "eu-west-1")
    assert isinstance(gcs, GcsConfig)
    assert gcs.read_timeout == 5.0


def test_failover_config_variable_names_the_file(config_file: Path) -> None:
    config = load_config(env={"FAILOVER_CONFIG": str(config_file)})
    assert len(config.stores) == 2


def test_no_file_and_no_variables_is_an_empty_config() -> None:
    assert load_config(env={}) == FailoverConfig()


def test_variables_address_endpoints_by_name(config_file: Path) -> None:
    env = {
        "FAILOVER__STORES__AWS__REGION": "us-east-2",
        "FAILOVER__STORES__AWS__ACCESS_KEY_ID": "AKIAEXAMPLE",
        "FAILOVER__STORES__AWS__SECRET_ACCESS_KEY": SECRET,
        "FAILOVER__STORES__GCP__CONNECT_TIMEOUT": "0.5",
        "FAILOVER__QUEUES__DR__KIND": "azure_queue",
        "FAILOVER__QUEUES__DR__QUEUE": "jobs-dr",
        "FAILOVER__QUEUES__DR__CONNECTION_STRING": CONNECTION,
        "UNRELATED": "ignored",
    }
    config = load_config(config_file, env=env)
    s3 = config.stores["aws"]
    assert isinstance(s3, S3Config)
    assert s3.region == "us-east-2", "a variable did not override the file"
    assert s3.bucket == "orders", "a variable replaced the file's table instead of completing it"
    assert s3.secret_access_key is not None
    assert s3.secret_access_key.get_secret_value() == SECRET, "the secret is not usable by the adapter"
    assert config.stores["gcp"].connect_timeout == 0.5, "a variable's text was not converted to the field's type"
    assert list(config.queues) == ["aws", "gcp", "dr"], "a variable did not add an entry after the file's"


def test_variables_set_engine_and_wrapper_settings(config_file: Path) -> None:
    env = {
        "FAILOVER__STORAGE__MODE": "mirror",
        "FAILOVER__ENGINE__DEADLINE": "4",
        "FAILOVER__ENGINE__HEALTH__CONSECUTIVE_FAILURES": "5",
        "FAILOVER__QUEUE__DEDUP": "true",
    }
    config = load_config(config_file, env=env)
    assert config.storage.mode == "mirror"
    assert config.engine.deadline == 4.0
    assert config.engine.health.consecutive_failures == 5
    assert config.queue.dedup is True


def test_env_file_is_read_below_the_environment(config_file: Path, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("FAILOVER__STORES__AWS__REGION=ap-south-1\nFAILOVER__ENGINE__DEADLINE=7\n", encoding="utf-8")
    config = load_config(config_file, env={"FAILOVER__ENGINE__DEADLINE": "3"}, env_file=env_file)
    aws = config.stores["aws"]
    assert isinstance(aws, S3Config)
    assert aws.region == "ap-south-1"
    assert config.engine.deadline == 3.0, "the .env file won over the environment"


def test_missing_env_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env={}, env_file=tmp_path / "absent.env")
    assert caught.value.field == "env_file"


def test_huge_number_in_a_variable_name_costs_nothing() -> None:
    # A list index in a variable name once grew a list to that length (450 MB for 200000).
    tracemalloc.start()
    try:
        error = _raised(env={"FAILOVER__STORES__200000__BUCKET": "abc"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"reading one variable took {peak} bytes"
    assert str(error.field).startswith("stores.200000"), error.field


@pytest.mark.parametrize("name", ["AWS-east", "1st", "dr.backup"])
def test_endpoint_name_an_environment_variable_cannot_address_is_refused(name: str, tmp_path: Path) -> None:
    path = tmp_path / "failover.toml"
    path.write_text(f'[stores."{name}"]\nkind = "gcs"\nbucket = "abc"\n', encoding="utf-8")
    error = _raised(path)
    assert error.field == "stores", error.field
    assert "identifier" in str(error)


def test_list_of_endpoints_in_python_is_named_by_kind_in_order() -> None:
    config = FailoverConfig(stores=[S3Config(bucket="one"), GcsConfig(bucket="two"), S3Config(bucket="three")])
    assert list(config.stores) == ["s3", "gcs", "s3_2"]


@pytest.mark.parametrize(
    ("env", "field"),
    [
        pytest.param({"KIND": "s3", "BUCKET": "ab"}, "stores.aws.s3.bucket", id="bucket-too-short"),
        pytest.param({"KIND": "s3", "BUCKET": "abc", "READ_TIMEOUT": "-1"}, "stores.aws.s3.read_timeout", id="timeout"),
        pytest.param({"KIND": "s3", "BUCKET": "abc", "COLOUR": "red"}, "stores.aws.s3.colour", id="unknown-field"),
        pytest.param({"KIND": "gcs", "BUCKET": "abc", "CHUNK_SIZE": "many"}, "stores.aws.gcs.chunk_size", id="not-int"),
        pytest.param({"KIND": "ftp", "BUCKET": "abc"}, "stores.aws", id="unknown-kind"),
        pytest.param({"BUCKET": "abc"}, "stores.aws", id="missing-kind"),
    ],
)
def test_bad_value_raises_config_error_naming_the_field(env: dict[str, str], field: str) -> None:
    error = _raised(env={f"FAILOVER__STORES__AWS__{name}": value for name, value in env.items()})
    assert error.field == field, f"the error names {error.field!r}, expected {field!r}"
    assert field in str(error), f"the message does not name {field!r}: {error}"


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("FAILOVER__STORAGE__MODE", "both", "storage.mode"),
        ("FAILOVER__STORAGE__WRITE_QUORUM", "0", "storage.write_quorum"),
        ("FAILOVER__ENGINE__DEADLINE", "-1", "engine.deadline"),
        ("FAILOVER__ENGINE__ROUTING", "random", "engine.routing"),
        ("FAILOVER__ENGINE__HEDGE__BUDGET_RATIO", "2", "engine.hedge.budget_ratio"),
        ("FAILOVER__QUEUE__DEDUP_TTL", "0", "queue.dedup_ttl"),
        ("FAILOVER__TOPICS", "x", "FAILOVER__TOPICS"),
        ("FAILOVER__STORE__AWS__REGION", "x", "FAILOVER__STORE__AWS__REGION"),
    ],
)
def test_bad_setting_raises_config_error_naming_it(variable: str, value: str, field: str) -> None:
    error = _raised(env={variable: value})
    assert error.field == field, f"the error names {error.field!r}, expected {field!r}"


def test_missing_file_raises_config_error(tmp_path: Path) -> None:
    error = _raised(tmp_path / "absent.toml")
    assert error.field == "FAILOVER_CONFIG"
    assert "absent.toml" in str(error)


def test_directory_as_config_file_raises_config_error(tmp_path: Path) -> None:
    error = _raised(tmp_path)
    assert error.field == "FAILOVER_CONFIG"
    assert "directory" in str(error)


def test_config_file_that_is_not_utf8_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[stores.aws]\nkind = "s3"\nbucket = "caf\u00e9s"\n'.encode("latin-1"))
    error = _raised(path)
    assert error.field == "FAILOVER_CONFIG"
    assert "not UTF-8" in str(error)


def test_invalid_toml_raises_config_error_without_quoting_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(f'[stores.aws]\nkind = "s3"\nsecret_access_key = "{SECRET}"\nbucket = \n', encoding="utf-8")
    error = _raised(path)
    assert "not valid TOML" in str(error)
    assert SECRET not in str(error), "a TOML error quoted a secret from the file"


def test_model_validator_error_names_the_entry() -> None:
    error = _raised(env={"FAILOVER__QUEUES__DR__KIND": "azure_queue", "FAILOVER__QUEUES__DR__QUEUE": "jobs"})
    assert error.field == "queues.dr.azure_queue"
    assert "connection_string or account_url" in str(error)


def _secret_configs() -> list[S3Config | AzureBlobConfig]:
    return [
        parse_config(
            S3Config,
            {"bucket": "abc", "access_key_id": "AKIA", "secret_access_key": SECRET, "session_token": SECRET},
        ),
        parse_config(AzureBlobConfig, {"container": "abc", "connection_string": CONNECTION}),
        parse_config(AzureBlobConfig, {"container": "abc", "account_url": "http://x", "account_key": SECRET}),
    ]


def test_secrets_are_absent_from_repr_str_and_dumps() -> None:
    for config in _secret_configs():
        assert SECRET not in repr(config), f"repr shows a secret: {config!r}"
        assert SECRET not in str(config), "str shows a secret"
        assert SECRET not in config.model_dump_json()
        assert SECRET not in repr(FailoverConfig(stores=[config]))


def test_secrets_are_absent_from_log_output(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("failover.test")
    with caplog.at_level(logging.DEBUG, logger="failover.test"):
        for config in _secret_configs():
            log.info("configured %s", config)
            log.debug("configured %r", config)
    assert caplog.records, "nothing was logged"
    assert SECRET not in caplog.text, "a log line shows a secret"


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"KIND": "s3", "BUCKET": "abc", "SECRET_ACCESS_KEY": SECRET}, id="unpaired-secret"),
        pytest.param(
            {"KIND": "s3", "BUCKET": "ab", "ACCESS_KEY_ID": "A", "SECRET_ACCESS_KEY": SECRET}, id="bad-bucket"
        ),
        pytest.param(
            {"KIND": "azure_blob", "CONTAINER": "abc", "CONNECTION_STRING": CONNECTION, "ACCOUNT_URL": "http://x"},
            id="two-ways-to-connect",
        ),
        pytest.param({"KIND": "gcs", "BUCKET": "abc", "ACCOUNT_KEY": SECRET}, id="secret-in-unknown-field"),
    ],
)
def test_config_error_text_never_shows_a_secret(env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    error = _raised(env={f"FAILOVER__STORES__AWS__{name}": value for name, value in env.items()})
    logging.getLogger("failover.test").exception("bad config", exc_info=error)
    for text in (str(error), repr(error), error.message, caplog.text):
        assert SECRET not in text, f"a ConfigError shows a secret: {text}"
    assert error.__cause__ is None, "the pydantic error is chained as the cause"
    assert error.__suppress_context__, "the pydantic error is shown as the context"


def test_secret_given_with_the_wrong_type_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(S3Config, {"bucket": "abc", "access_key_id": 12345678901234, "secret_access_key": "x"})
    assert caught.value.field == "access_key_id"
    assert "12345678901234" not in str(caught.value)

"""Configuration: TOML plus FAILOVER__ variables, errors that name the field, secrets that never show."""

from __future__ import annotations

import logging
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
[[storage]]
kind = "s3"
bucket = "orders"
region = "eu-west-1"

[[storage]]
kind = "gcs"
bucket = "orders-replica"
read_timeout = 5

[[queues]]
kind = "sqs"
queue = "jobs"

[[queues]]
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


def test_toml_file_loads_stores_and_queues_by_kind_in_order(config_file: Path) -> None:
    config = load_config(config_file, env={})
    assert [type(store) for store in config.storage] == [S3Config, GcsConfig]
    assert [type(queue) for queue in config.queues] == [SqsConfig, PubSubConfig]
    s3, gcs = config.storage
    assert isinstance(s3, S3Config)
    assert (s3.bucket, s3.region) == ("orders", "eu-west-1")
    assert isinstance(gcs, GcsConfig)
    assert gcs.read_timeout == 5.0


def test_failover_config_variable_names_the_file(config_file: Path) -> None:
    config = load_config(env={"FAILOVER_CONFIG": str(config_file)})
    assert len(config.storage) == 2


def test_no_file_and_no_variables_is_an_empty_config() -> None:
    assert load_config(env={}) == FailoverConfig()


def test_variables_override_and_complete_the_file(config_file: Path) -> None:
    env = {
        "FAILOVER__STORAGE__0__REGION": "us-east-2",
        "FAILOVER__STORAGE__0__ACCESS_KEY_ID": "AKIAEXAMPLE",
        "FAILOVER__STORAGE__0__SECRET_ACCESS_KEY": SECRET,
        "FAILOVER__STORAGE__1__CONNECT_TIMEOUT": "0.5",
        "FAILOVER__QUEUES__2__KIND": "azure_queue",
        "FAILOVER__QUEUES__2__QUEUE": "jobs-dr",
        "FAILOVER__QUEUES__2__CONNECTION_STRING": CONNECTION,
        "UNRELATED": "ignored",
    }
    config = load_config(config_file, env=env)
    s3 = config.storage[0]
    assert isinstance(s3, S3Config)
    assert s3.region == "us-east-2", "a variable did not override the file"
    assert s3.secret_access_key is not None
    assert s3.secret_access_key.get_secret_value() == SECRET, "the secret is not usable by the adapter"
    assert config.storage[1].connect_timeout == 0.5, "a variable's text was not converted to the field's type"
    assert len(config.queues) == 3, "a variable did not add an entry"


@pytest.mark.parametrize(
    "variable",
    ["FAILOVER__STORAGE__REGION", "FAILOVER__STORAGE__x__REGION", "FAILOVER__TOPICS__0__NAME", "FAILOVER__A__0__B__C"],
)
def test_malformed_variable_name_raises_config_error_naming_it(variable: str) -> None:
    error = _raised(env={variable: "x"})
    assert error.field == variable, f"the error names {error.field!r}"
    assert variable in str(error)


@pytest.mark.parametrize(
    ("env", "field"),
    [
        pytest.param({"KIND": "s3", "BUCKET": "ab"}, "storage.0.s3.bucket", id="bucket-too-short"),
        pytest.param({"KIND": "s3", "BUCKET": "abc", "READ_TIMEOUT": "-1"}, "storage.0.s3.read_timeout", id="timeout"),
        pytest.param({"KIND": "s3", "BUCKET": "abc", "COLOUR": "red"}, "storage.0.s3.colour", id="unknown-field"),
        pytest.param({"KIND": "gcs", "BUCKET": "abc", "CHUNK_SIZE": "many"}, "storage.0.gcs.chunk_size", id="not-int"),
        pytest.param({"KIND": "ftp", "BUCKET": "abc"}, "storage.0", id="unknown-kind"),
        pytest.param({"BUCKET": "abc"}, "storage.0", id="missing-kind"),
    ],
)
def test_bad_value_raises_config_error_naming_the_field(env: dict[str, str], field: str) -> None:
    error = _raised(env={f"FAILOVER__STORAGE__0__{name}": value for name, value in env.items()})
    assert error.field == field, f"the error names {error.field!r}, expected {field!r}"
    assert field in str(error), f"the message does not name {field!r}: {error}"


def test_missing_file_raises_config_error(tmp_path: Path) -> None:
    error = _raised(tmp_path / "absent.toml")
    assert error.field == "FAILOVER_CONFIG"
    assert "absent.toml" in str(error)


def test_invalid_toml_raises_config_error_without_quoting_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(f'[[storage]]\nkind = "s3"\nsecret_access_key = "{SECRET}"\nbucket = \n', encoding="utf-8")
    error = _raised(path)
    assert "not valid TOML" in str(error)
    assert SECRET not in str(error), "a TOML error quoted a secret from the file"


def test_model_validator_error_names_the_entry() -> None:
    error = _raised(env={"FAILOVER__QUEUES__0__KIND": "azure_queue", "FAILOVER__QUEUES__0__QUEUE": "jobs"})
    assert error.field == "queues.0.azure_queue"
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
        assert SECRET not in repr(FailoverConfig(storage=[config]))


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
    error = _raised(env={f"FAILOVER__STORAGE__0__{name}": value for name, value in env.items()})
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

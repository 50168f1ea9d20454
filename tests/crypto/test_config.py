"""The [encryption] table: a keyring from config, secrets from the environment."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError

from failover.crypto import LocalKey
from failover.crypto.config import AwsKmsKeyConfig, EncryptionConfig
from failover.errors import ConfigError
from tests.crypto.support import KEY_A, KEY_B


def test_keyring_from_config_has_every_key_and_the_active_one() -> None:
    config = EncryptionConfig.model_validate(
        {"active": "key-b", "keys": {"key-a": KEY_A.export().get_secret_value(), "key-b": KEY_B.export()}}
    )
    keyring = config.keyring(environ={})
    assert keyring.key_ids == ("key-a", "key-b")
    assert keyring.active == KEY_B


def test_environment_secret_wins_over_the_file() -> None:
    config = EncryptionConfig(active="key-a", keys={"key-a": SecretStr("not even base64")})
    keyring = config.keyring(environ={"FAILOVER_ENCRYPTION_KEY_KEY_A": KEY_A.export().get_secret_value()})
    assert keyring.active == KEY_A


def test_active_key_missing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="key-c"):
        EncryptionConfig(active="key-c", keys={"key-a": KEY_A.export()}).keyring(environ={})


def test_key_of_the_wrong_length_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="'short' is 16 bytes"):
        EncryptionConfig(active="short", keys={"short": SecretStr(base64.b64encode(bytes(16)).decode())}).keyring(
            environ={}
        )


def test_duplicate_names_across_local_and_kms_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="unique"):
        EncryptionConfig(
            active="k", keys={"k": KEY_A.export()}, aws_kms=[AwsKmsKeyConfig(name="k", kms_key_id="alias/x")]
        )


def test_secret_does_not_show_in_repr() -> None:
    config = EncryptionConfig(active="key-a", keys={"key-a": KEY_A.export()})
    assert KEY_A.export().get_secret_value() not in repr(config)
    assert "key-a" in repr(LocalKey.generate("key-a"))

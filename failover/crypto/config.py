"""The ``[encryption]`` table: named master keys and the active one, as pydantic models.

::

    [encryption]
    active = "2026-q4"

    [encryption.keys]
    "2026-q3" = "base64 of 32 random bytes"      # still read, no longer written
    "2026-q4" = "base64 of 32 random bytes"

    [[encryption.aws_kms]]
    name = "kms-main"
    kms_key_id = "arn:aws:kms:eu-west-1:111122223333:key/..."
    region = "eu-west-1"

Secrets belong in the environment rather than the file: each key may be given as
``FAILOVER_ENCRYPTION_KEY_<NAME>`` (the name upper-cased, ``-`` and ``.`` as ``_``), which wins over
the file. `LocalKey.generate("name").export()` makes a new key's text form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from failover.crypto.keys import KeyProvider, Keyring, LocalKey, validate_key_id
from failover.errors import ConfigError

__all__ = ["AwsKmsKeyConfig", "EncryptionConfig", "environment_keys"]

ENV_PREFIX = "FAILOVER_ENCRYPTION_KEY_"


class AwsKmsKeyConfig(BaseModel):
    """One master key held by AWS KMS (see `failover.crypto.kms` for what that adds a dependency on)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The key id stored beside each ciphertext.")
    kms_key_id: str = Field(description="The KMS key: ARN, key id or alias/...")
    region: str | None = Field(default=None, description="KMS region; else the SDK's default.")
    endpoint_url: str | None = Field(default=None, description="Endpoint override (moto in tests).")


class EncryptionConfig(BaseModel):
    """The keyring: local master keys by name, KMS keys, and which one encrypts new writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    active: str = Field(description="The key new objects and messages are encrypted under.")
    keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=f"Local master keys, name -> base64 of 32 bytes; {ENV_PREFIX}<NAME> overrides each.",
    )
    aws_kms: list[AwsKmsKeyConfig] = Field(default_factory=list, description="Master keys held by AWS KMS.")

    @model_validator(mode="after")
    def _check(self) -> EncryptionConfig:
        names = list(self.keys) + [key.name for key in self.aws_kms]
        for name in names:
            validate_key_id(name)
        if len(set(names)) != len(names):
            raise ValueError(f"key names must be unique, not {names}")
        return self

    def keyring(self, environ: Mapping[str, str] | None = None, *, kms_client: Any = None) -> Keyring:
        """The `Keyring` this config describes; local secrets from ``environ`` win over the file's."""
        secrets = {**self.keys, **environment_keys(self.keys, os.environ if environ is None else environ)}
        providers: list[KeyProvider] = [LocalKey(name, secret) for name, secret in secrets.items()]
        for kms in self.aws_kms:
            providers.append(_aws_kms(kms, kms_client))
        if self.active not in {provider.key_id for provider in providers}:
            raise ConfigError(f"encryption.active names {self.active!r}, which is no key", field="encryption.active")
        return Keyring(providers, active=self.active)


def environment_keys(names: Mapping[str, object], environ: Mapping[str, str]) -> dict[str, SecretStr]:
    """The secrets ``environ`` gives for the key ``names``."""
    found = {}
    for name in names:
        value = environ.get(ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper())
        if value:
            found[name] = SecretStr(value)
    return found


def _aws_kms(config: AwsKmsKeyConfig, client: Any) -> KeyProvider:
    from failover.crypto.kms import AwsKmsKey

    if client is None:
        from failover.adapters._sdk import require

        boto3 = require("boto3", extra="aws", user="AwsKmsKey")
        client = boto3.client("kms", region_name=config.region, endpoint_url=config.endpoint_url)
    return AwsKmsKey(config.name, config.kms_key_id, client)

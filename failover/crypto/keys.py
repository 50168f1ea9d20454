"""Master keys: the `KeyProvider` Protocol, local keys held by the application, and the `Keyring`.

A provider hands out a data key for each new object or message, with that key in a wrapped form that
is stored beside the ciphertext, and unwraps a stored form again for reads. A `LocalKey` keeps its
secret in the process and derives every object's key from it (its wrapped form is empty); a KMS
provider (`failover.crypto.kms`) wraps a fresh random data key under a key that never leaves the KMS.

The keyring holds every key that may still be needed to read, by name; one of them, the active key,
encrypts new writes. Rotation is: add a new key, make it active, run ``failover rekey``, then drop the
old key once nothing is written under it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from failover.crypto._aead import KEY_SIZE
from failover.errors import ConfigError, IntegrityError

__all__ = ["DataKey", "KeyProvider", "Keyring", "LocalKey", "validate_key_id"]

_KEY_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}\Z")


def validate_key_id(key_id: object) -> str:
    """``key_id`` if it is 1 to 128 characters of ``[A-Za-z0-9._:/+=@-]``, else `ConfigError`."""
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ConfigError(f"a key id is 1 to 128 characters of [A-Za-z0-9._:/+=@-], not {key_id!r}", field="key_id")
    return key_id


@dataclass(frozen=True, slots=True)
class DataKey:
    """The key one object or message is encrypted under: ``plaintext`` stays in memory, ``wrapped`` is
    stored beside the ciphertext (empty when the provider derives it from its own secret)."""

    plaintext: bytes = field(repr=False)
    wrapped: bytes = b""


@runtime_checkable
class KeyProvider(Protocol):
    """One named master key: in the process, or in a KMS."""

    @property
    def key_id(self) -> str:
        """The name stored in the clear beside each ciphertext, to find this key again on read."""
        ...

    @property
    def max_wrapped_size(self) -> int:
        """The most bytes `DataKey.wrapped` takes: what a message or header must leave room for."""
        ...

    def new_data_key(self) -> DataKey:
        """The key for one new object or message."""
        ...

    def unwrap(self, wrapped: bytes) -> bytes:
        """The data key whose stored form is ``wrapped``; `IntegrityError` if it is not one of ours."""
        ...


class LocalKey:
    """A 32-byte master key held by the application (from config or the environment).

    Each object's key is derived from it and the object's random salt (HKDF), so nothing is wrapped
    and no service is called: reads and writes depend on no one's availability but the stores'.
    """

    def __init__(self, key_id: str, secret: SecretStr | bytes) -> None:
        self._key_id = validate_key_id(key_id)
        raw = secret if isinstance(secret, bytes) else _decode_secret(key_id, secret)
        if len(raw) != KEY_SIZE:
            raise ConfigError(f"master key {key_id!r} is {len(raw)} bytes, not {KEY_SIZE}", field=key_id)
        self._secret = raw

    @classmethod
    def generate(cls, key_id: str) -> LocalKey:
        """A new random key (``secrets.token_bytes``); `export` gives its text form for config."""
        import secrets

        return cls(key_id, secrets.token_bytes(KEY_SIZE))

    def export(self) -> SecretStr:
        """The key's text form (base64), as config and `Keyring.from_secrets` take it."""
        return SecretStr(base64.b64encode(self._secret).decode("ascii"))

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def max_wrapped_size(self) -> int:
        return 0

    def new_data_key(self) -> DataKey:
        return DataKey(self._secret)

    def unwrap(self, wrapped: bytes) -> bytes:
        if wrapped:
            raise IntegrityError("a local key wraps nothing, yet a wrapped key is stored", key_id=self._key_id)
        return self._secret

    def __repr__(self) -> str:
        return f"LocalKey({self._key_id!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, LocalKey)
            and other._key_id == self._key_id
            and hmac.compare_digest(other._secret, self._secret)
        )

    def __hash__(self) -> int:
        return hash(self._key_id)


def _decode_secret(key_id: str, secret: SecretStr) -> bytes:
    try:
        return base64.b64decode(secret.get_secret_value().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"master key {key_id!r} is not base64", field=key_id) from None


class Keyring:
    """Named master keys, one ``active`` for new writes; every key stays available for reads."""

    def __init__(self, keys: Iterable[KeyProvider], *, active: str) -> None:
        self._keys: dict[str, KeyProvider] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ConfigError(f"two keys are named {key.key_id!r}", field="keys")
            self._keys[key.key_id] = key
        if active not in self._keys:
            raise ConfigError(f"the active key {active!r} is not in the keyring ({sorted(self._keys)})", field="active")
        self._active = active

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, SecretStr | str], *, active: str) -> Keyring:
        """A keyring of `LocalKey`\\ s from ``{name: base64 secret}``."""
        return cls(
            (
                LocalKey(name, value if isinstance(value, SecretStr) else SecretStr(value))
                for name, value in secrets.items()
            ),
            active=active,
        )

    @property
    def active(self) -> KeyProvider:
        return self._keys[self._active]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def get(self, key_id: str, *, key: str | None = None) -> KeyProvider:
        """The key named ``key_id``; `IntegrityError` if the keyring has none of that name."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise IntegrityError(
                "the data was encrypted under a key this keyring does not hold",
                key_id=key_id,
                check="key lookup",
                key=key,
            ) from None

    def with_active(self, key_id: str) -> Keyring:
        """The same keys with ``key_id`` active."""
        return Keyring(self._keys.values(), active=key_id)

    def __repr__(self) -> str:
        return f"Keyring(keys={list(self._keys)}, active={self._active!r})"

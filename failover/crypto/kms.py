"""`AwsKmsKey`: a master key that never leaves AWS KMS; each object's data key is wrapped under it.

Each new object or message asks KMS for a fresh data key (``GenerateDataKey``, AES-256): the plaintext
key encrypts, the wrapped form is stored beside the ciphertext, and a read asks KMS to unwrap it
(``Decrypt``). The stores hold only ciphertext and wrapped keys; reading needs both the stores and
KMS, and KMS's permission, so access can be revoked and audited in one place.

This adds a dependency on the availability of that one KMS region: while it is unreachable, no
object written under the key can be read and nothing can be written under it, whichever cloud holds
the bytes. To keep reads independent of any one vendor, wrap each data key under several KMSs (AWS
KMS, Cloud KMS, Key Vault) and store every wrapped form, trying them in turn on read: a `KeyProvider`
that composes providers this way is a small extension of this one (not built here). A `LocalKey`
depends on nothing but the application.
"""

from __future__ import annotations

from typing import Any

from failover.adapters.aws._errors import translate
from failover.crypto.keys import DataKey, validate_key_id
from failover.errors import IntegrityError

__all__ = ["AwsKmsKey"]

# Binds each wrapped key to this use: a data key wrapped for something else does not unwrap here.
_CONTEXT = {"purpose": "failover-encryption"}
# A KMS ciphertext blob of a 32-byte key is under 200 bytes; this leaves room.
_MAX_WRAPPED = 512
_NOT_OURS = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class AwsKmsKey:
    """A `KeyProvider` over the KMS key ``kms_key_id`` (ARN, key id or ``alias/...``).

    ``client`` is a boto3 KMS client (``boto3.client("kms", ...)``); errors reaching KMS are raised as
    the AWS adapters raise them (`ProviderUnavailable`, `AccessDenied`), a blob KMS refuses to unwrap
    as `IntegrityError`.
    """

    def __init__(self, key_id: str, kms_key_id: str, client: Any) -> None:
        self._key_id = validate_key_id(key_id)
        self._kms_key_id = kms_key_id
        self._client = client

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def max_wrapped_size(self) -> int:
        return _MAX_WRAPPED

    def new_data_key(self) -> DataKey:
        try:
            response = self._client.generate_data_key(
                KeyId=self._kms_key_id, KeySpec="AES_256", EncryptionContext=_CONTEXT
            )
        except Exception as exc:
            raise translate(exc, operation="kms.generate_data_key", provider="aws-kms") from exc
        return DataKey(bytes(response["Plaintext"]), bytes(response["CiphertextBlob"]))

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            response = self._client.decrypt(CiphertextBlob=wrapped, KeyId=self._kms_key_id, EncryptionContext=_CONTEXT)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in _NOT_OURS:
                raise IntegrityError(
                    f"KMS refused to unwrap the data key ({code})", key_id=self._key_id, check="key unwrap"
                ) from exc
            raise translate(exc, operation="kms.decrypt", provider="aws-kms") from exc
        return bytes(response["Plaintext"])

    def __repr__(self) -> str:
        return f"AwsKmsKey({self._key_id!r}, {self._kms_key_id!r})"

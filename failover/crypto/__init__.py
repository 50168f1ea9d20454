"""Client-side encryption: every copy on every provider is ciphertext only the application can read.

`EncryptedStorage` and `EncryptedQueue` wrap any store or queue (in practice the failover wrappers, so
each object or message is encrypted once and the same ciphertext is replicated). Keys come from a
`Keyring` of named master keys: `LocalKey`\\ s held by the application, or a KMS behind the
`KeyProvider` Protocol (`AwsKmsKey`). Needs the ``failover[crypto]`` extra (`cryptography`).
"""

from failover.crypto.keys import DataKey, KeyProvider, Keyring, LocalKey
from failover.crypto.kms import AwsKmsKey
from failover.crypto.queue import EncryptedQueue
from failover.crypto.storage import EncryptedStorage

__all__ = ["AwsKmsKey", "DataKey", "EncryptedQueue", "EncryptedStorage", "KeyProvider", "Keyring", "LocalKey"]

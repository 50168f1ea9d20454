"""failover: object storage and message queues that keep working when one cloud goes down."""

from failover.adapters.aws import S3Store, SqsQueue
from failover.adapters.azure import AzureBlobStore, AzureQueue
from failover.adapters.gcp import GcsStore, PubSubQueue
from failover.adapters.memory import MemoryQueue, MemoryStore
from failover.config import (
    AzureBlobConfig,
    AzureQueueConfig,
    FailoverConfig,
    GcsConfig,
    PubSubConfig,
    S3Config,
    SqsConfig,
    load_config,
)
from failover.crypto import AwsKmsKey, EncryptedQueue, EncryptedStorage, KeyProvider, Keyring, LocalKey
from failover.engine import EngineSettings
from failover.errors import (
    AccessDenied,
    AllProvidersFailed,
    ConfigError,
    Disposition,
    FailoverError,
    IntegrityError,
    InvalidRequest,
    JournalError,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    ProviderError,
    ProviderUnavailable,
    Reason,
    StaleReadRisk,
)
from failover.health import HealthState
from failover.interfaces import (
    Capabilities,
    CommonPrefix,
    ListEntry,
    Message,
    MessageId,
    MessageQueue,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
    OutgoingMessage,
    QueueCapabilities,
    SendResult,
)
from failover.queue import FailoverQueue
from failover.routing import HedgePolicy
from failover.storage import FailoverStorage

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AllProvidersFailed",
    "AwsKmsKey",
    "AzureBlobConfig",
    "AzureBlobStore",
    "AzureQueue",
    "AzureQueueConfig",
    "Capabilities",
    "CommonPrefix",
    "ConfigError",
    "Disposition",
    "EncryptedQueue",
    "EncryptedStorage",
    "EngineSettings",
    "FailoverConfig",
    "FailoverError",
    "FailoverQueue",
    "FailoverStorage",
    "GcsConfig",
    "GcsStore",
    "HealthState",
    "HedgePolicy",
    "IntegrityError",
    "InvalidRequest",
    "JournalError",
    "KeyProvider",
    "Keyring",
    "ListEntry",
    "LocalKey",
    "MemoryQueue",
    "MemoryStore",
    "Message",
    "MessageId",
    "MessageQueue",
    "NotFound",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStore",
    "OutcomeUnknown",
    "OutgoingMessage",
    "PreconditionFailed",
    "ProviderError",
    "ProviderUnavailable",
    "PubSubConfig",
    "PubSubQueue",
    "QueueCapabilities",
    "Reason",
    "S3Config",
    "S3Store",
    "SendResult",
    "SqsConfig",
    "SqsQueue",
    "StaleReadRisk",
    "__version__",
    "load_config",
]

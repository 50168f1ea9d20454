"""Failover groups on the local clouds whose first endpoint is Azure behind a refused port, signed with a SAS,
and whose second is AWS (moto) with a session token: the logging and telemetry tests' rigs.

The Azure endpoints point at a closed loopback port, so every call there is refused after the SDK
has built (and signed) its request: the SAS travels in each URL that fails.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import unquote

from failover.adapters.aws.s3 import S3Store
from failover.adapters.aws.sqs import SqsQueue
from failover.adapters.azure.blob import AzureBlobStore
from failover.adapters.azure.queue import AzureQueue
from failover.engine import EngineSettings
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage
from failover.testing.emulators import LocalClouds
from tests.support import closed_port

SESSION_TOKEN = "FwoGZXIvYXdzEBsaDSessionTokenValue/0123456789+abcdefSECRET"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSecretAccessKey"
SETTINGS = EngineSettings(deadline=5.0, attempt_timeout=1.0, start_probers=False)
TIMEOUTS = {"connect_timeout": 0.5, "read_timeout": 1.0}


@dataclass(frozen=True)
class Secrets:
    """What must appear in no log line: the SAS signature (as sent and decoded), the account key, AWS's."""

    sas: str
    account_key: str

    @property
    def signature(self) -> str:
        return next(field[4:] for field in self.sas.split("&") if field.startswith("sig="))

    def all(self) -> list[str]:
        return [self.signature, unquote(self.signature), self.account_key, SESSION_TOKEN, SECRET_KEY]


def _account(clouds: LocalClouds) -> tuple[str, str]:
    parts = dict(part.split("=", 1) for part in clouds.azure.connection_string.split(";") if part)
    return parts["AccountName"], parts["AccountKey"]


def _refused(endpoint: str) -> str:
    """``endpoint`` (``http://host:port/account``) moved to a port nothing listens on."""
    scheme, rest = endpoint.split("://", 1)
    account = rest.split("/", 1)[1]
    return f"{scheme}://127.0.0.1:{closed_port()}/{account}"


def refused_storage(clouds: LocalClouds, name: str) -> tuple[FailoverStorage, Secrets]:
    """Azure Blob (refused, SAS) then S3 (moto, session token)."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    account, key = _account(clouds)
    sas = generate_container_sas(
        account,
        name,
        account_key=key,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True, create=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    connection = f"BlobEndpoint={_refused(clouds.azure.blob_endpoint)};SharedAccessSignature={sas}"
    azure = AzureBlobStore(clouds.azure.azure_blob_config(name, connection_string=connection, ensure=False, **TIMEOUTS))
    aws = S3Store(
        clouds.aws.s3_config(name, secret_access_key=SECRET_KEY, session_token=SESSION_TOKEN, ensure=True, **TIMEOUTS)
    )
    storage = FailoverStorage([azure, aws], settings=SETTINGS, replicate=False)
    return storage, Secrets(sas, key)


def refused_queue(clouds: LocalClouds, name: str) -> tuple[FailoverQueue, Secrets]:
    """Azure Queue (refused, SAS) then SQS (moto, session token)."""
    from azure.storage.queue import QueueSasPermissions, generate_queue_sas

    account, key = _account(clouds)
    sas = generate_queue_sas(
        account,
        name,
        account_key=key,
        permission=QueueSasPermissions(read=True, add=True, update=True, process=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    connection = f"QueueEndpoint={_refused(clouds.azure.queue_endpoint)};SharedAccessSignature={sas}"
    azure = AzureQueue(clouds.azure.azure_queue_config(name, connection_string=connection, ensure=False, **TIMEOUTS))
    aws = SqsQueue(
        clouds.aws.sqs_config(name, secret_access_key=SECRET_KEY, session_token=SESSION_TOKEN, ensure=True, **TIMEOUTS)
    )
    queue = FailoverQueue([azure, aws], settings=SETTINGS)
    return queue, Secrets(sas, key)

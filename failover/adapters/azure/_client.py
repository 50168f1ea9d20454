"""What the Blob and Queue adapters share: credentials, transport settings, per-call timeouts."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from failover._logging import install
from failover.config import AzureBlobConfig, AzureQueueConfig
from failover.errors import ConfigError, InvalidRequest

__all__ = ["Connection", "call_timeouts", "client_options", "resolve_connection"]


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach one account: a connection string, or an account URL and a credential."""

    connection_string: str | None = None
    account_url: str | None = None
    credential: Any = None  # an account key (str) or a TokenCredential; None with a connection string

    def client(self, cls: Any, *args: str, **options: Any) -> Any:
        """An SDK client of class ``cls`` on this account (``BlobServiceClient``, ``QueueClient``, ...):
        from the connection string, or the account URL and credential; ``args`` follow the account
        (a queue's name), ``options`` are the client's keyword arguments."""
        if self.connection_string is not None:
            return cls.from_connection_string(self.connection_string, *args, **options)
        return cls(self.account_url, *args, credential=self.credential, **options)

    def close(self) -> None:
        close = getattr(self.credential, "close", None)
        if callable(close):
            close()


def resolve_connection(config: AzureBlobConfig | AzureQueueConfig, *, user: str) -> Connection:
    """The connection string; else the account URL with the shared key; else DefaultAzureCredential.

    Its secrets (the key, a SAS and its signature) are taught to the SDK loggers' redacting filter.
    """
    if config.connection_string is not None:
        connection_string = config.connection_string.get_secret_value()
        install(_secrets_of(connection_string))
        return Connection(connection_string=connection_string)
    if config.account_key is not None:
        install([config.account_key.get_secret_value()])
        return Connection(account_url=config.account_url, credential=config.account_key.get_secret_value())
    try:
        identity = importlib.import_module("azure.identity")
    except ImportError:
        raise ConfigError(
            f"{user} with account_url and no account_key signs in with DefaultAzureCredential: "
            "install azure-identity, or give account_key or connection_string",
            field="account_key",
        ) from None
    return Connection(account_url=config.account_url, credential=identity.DefaultAzureCredential())


def _secrets_of(connection_string: str) -> list[str]:
    """The account key, the SAS token and its signature in a connection string."""
    secrets: list[str] = []
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "accountkey":
            secrets.append(value)
        elif name.strip().lower() == "sharedaccesssignature":
            secrets.append(value)
            secrets.extend(unquote(field[4:]) for field in value.split("&") if field.lower().startswith("sig="))
            secrets.extend(field[4:] for field in value.split("&") if field.lower().startswith("sig="))
    return secrets


def client_options(config: AzureBlobConfig | AzureQueueConfig) -> dict[str, Any]:
    """Client keyword arguments: no SDK retries (the failover engine decides), short timeouts."""
    return {
        "retry_total": 0,
        "connection_timeout": config.connect_timeout,
        "read_timeout": config.read_timeout,
    }


def call_timeouts(config: AzureBlobConfig | AzureQueueConfig, timeout: float | None) -> dict[str, Any]:
    """Per-call transport timeouts for one attempt of ``timeout`` seconds (None: the config's).

    The Azure SDKs pass ``connection_timeout`` and ``read_timeout`` through to the transport on each
    request; their ``timeout`` keyword is the server-side limit, which is not what is meant here.
    """
    if timeout is None:
        return {"connection_timeout": config.connect_timeout, "read_timeout": config.read_timeout}
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidRequest(
            f"a timeout is a number of seconds > 0, not {timeout!r}", rule="timeout", imposed_by="failover"
        )
    return {"connection_timeout": min(config.connect_timeout, timeout), "read_timeout": float(timeout)}

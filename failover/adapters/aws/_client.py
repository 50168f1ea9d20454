"""boto3 clients for the AWS adapters: one Session, one client per attempt timeout, SDK retries off.

botocore fixes a client's timeouts when it builds it, and building one costs milliseconds, so each
adapter keeps a few: one per attempt timeout, rounded up to half a second, built on first use.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any

from failover._logging import install
from failover.adapters._sdk import require
from failover.config import S3Config, SqsConfig
from failover.errors import ConfigError

__all__ = ["ClientCache", "timeout_slot"]

_SLOT = 0.5  # seconds: attempt timeouts are rounded up to a multiple of this


def timeout_slot(timeout: float) -> float:
    """``timeout`` rounded up to the next half second (the client cache's key)."""
    return max(_SLOT, math.ceil(timeout / _SLOT) * _SLOT)


class ClientCache:
    """boto3 clients of one service for one endpoint, keyed by their read timeout."""

    def __init__(self, config: S3Config | SqsConfig, service: str, *, user: str, max_pool_connections: int = 10):
        self._config = config
        self._service = service
        self._user = user
        self._max_pool_connections = max_pool_connections
        require("boto3", extra="aws", user=user)  # a missing extra fails when the adapter is built, not on first use
        self._clients: dict[float, Any] = {}
        # boto3 Sessions are not thread-safe; clients are. Build under a lock, use without one.
        self._lock = threading.Lock()
        self._session: Any = self._new_session()

    def _new_session(self) -> Any:
        # Region, profile and credentials the config leaves out come from boto3's own chain
        # (AWS_DEFAULT_REGION, AWS_PROFILE, the shared files, instance roles), as for a plain boto3
        # client; boto3 does not read AWS_REGION (the other AWS SDKs and Lambda do), so it comes last.
        session = self._session_in(self._config.region)
        if session.region_name is None and os.environ.get("AWS_REGION"):
            session = self._session_in(os.environ["AWS_REGION"])
        if session.region_name is None and self._service != "s3":
            raise ConfigError(
                f"{self._user} needs a region: set region in its configuration, AWS_DEFAULT_REGION, AWS_REGION, "
                "or a profile's region",
                field="region",
            )
        return session

    def _session_in(self, region: str | None) -> Any:
        boto3 = require("boto3", extra="aws", user=self._user)
        exceptions = require("botocore.exceptions", extra="aws", user=self._user)
        config = self._config
        try:
            return boto3.session.Session(
                aws_access_key_id=config.access_key_id.get_secret_value() if config.access_key_id else None,
                aws_secret_access_key=config.secret_access_key.get_secret_value() if config.secret_access_key else None,
                aws_session_token=config.session_token.get_secret_value() if config.session_token else None,
                region_name=region,
                profile_name=config.profile,
            )
        except exceptions.ProfileNotFound:
            raise ConfigError(
                f"{self._user}: the AWS profile {config.profile!r} is not in the shared config files", field="profile"
            ) from None

    @property
    def region(self) -> str:
        """The region in use: the configuration's, else the SDK chain's, else us-east-1 (S3's default)."""
        return str(self._session.region_name or "us-east-1")

    def get(self, timeout: float | None) -> Any:
        """The client whose read timeout is ``timeout`` (None: the config's), rounded up."""
        slot = timeout_slot(self._config.read_timeout if timeout is None else timeout)
        client = self._clients.get(slot)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(slot)
            if client is None:
                client = self._clients[slot] = self._build(slot)
        return client

    @property
    def slots(self) -> tuple[float, ...]:
        """The read timeouts of the clients built so far."""
        return tuple(sorted(self._clients))

    def _build(self, read_timeout: float) -> Any:
        botocore_config = require("botocore.config", extra="aws", user=self._user)
        options: dict[str, Any] = {
            # The failover engine decides about retries, not botocore.
            "retries": {"total_max_attempts": 1, "mode": "standard"},
            "connect_timeout": min(self._config.connect_timeout, read_timeout),
            "read_timeout": read_timeout,
            "max_pool_connections": self._max_pool_connections,
        }
        if self._service == "s3" and self._config.endpoint_url:
            # Emulators and appliances answer at one host; virtual-hosted names would not resolve.
            options["s3"] = {"addressing_style": "path"}
        client = self._session.client(
            self._service,
            endpoint_url=self._config.endpoint_url,
            config=botocore_config.Config(**options),
        )
        # After the client: botocore has imported the modules whose loggers print headers.
        config = self._config
        install(
            secret.get_secret_value()
            for secret in (config.access_key_id, config.secret_access_key, config.session_token)
            if secret is not None
        )
        if self._service == "s3":
            # botocore sends S3 writes with "Expect: 100-continue" and, when no 100 comes, waits a
            # second before sending the body anyway: a hung S3 then held every write a second past
            # its attempt timeout (measured: deadline 2 s, attempt 1 s, the write never reached the
            # healthy next store). Without the header, a refused write costs its body's bandwidth.
            handlers = require("botocore.handlers", extra="aws", user=self._user)
            client.meta.events.unregister("before-call.s3", handlers.add_expect_header)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

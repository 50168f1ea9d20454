"""boto3 clients for the AWS adapters: one Session, a bounded set of clients by read timeout, SDK retries off.

botocore fixes a client's timeouts when it builds it, and building one costs milliseconds, so each
adapter keeps a few: one for the configured read timeout, built with the adapter (the first client
loads botocore's service model, half a second here, which must not come out of a call's deadline),
and others, built on first use, on a ladder of timeouts a factor of sqrt(2) apart from 0.25 s to
64 s (17 at most, whatever the deadlines). An attempt's timeout is rounded down to the ladder, so
that no attempt outlives the call's deadline; so is a long poll's, whose poll is then shortened to
end inside the socket's read timeout (`long_poll_slot`).
"""

from __future__ import annotations

import bisect
import math
import os
import threading
from typing import Any

from failover._logging import install
from failover.adapters._sdk import require
from failover.config import S3Config, SqsConfig
from failover.errors import ConfigError

__all__ = ["ClientCache", "long_poll_slot", "timeout_slot"]

LADDER: tuple[float, ...] = tuple(round(0.25 * 2 ** (step / 2), 3) for step in range(17))
"""The read timeouts clients are built for besides the configured one: 0.25 s to 64 s, sqrt(2) apart."""


def timeout_slot(timeout: float, *, configured: float, outlast: bool = False) -> float:
    """The read timeout of the client for an attempt of ``timeout`` seconds (the cache's key).

    ``configured`` (the endpoint's read timeout) when ``timeout`` reaches it; else ``timeout``
    rounded down to the ladder (at least its first step), or up with ``outlast`` (a long poll).
    """
    if outlast:
        return LADDER[min(bisect.bisect_left(LADDER, timeout), len(LADDER) - 1)]
    if timeout >= configured:
        return configured
    return LADDER[max(bisect.bisect_right(LADDER, timeout) - 1, 0)]


def long_poll_slot(budget: float, poll: int, *, attempt: float) -> tuple[float, int]:
    """The read timeout of the client for a long poll that must end within ``budget`` seconds, and the
    poll to ask for (at most ``poll`` whole seconds).

    The read timeout is ``budget`` rounded down to the ladder; the server answers after the poll, so
    the poll is shortened to leave the answer ``attempt / 2`` (at most 1 s) inside the read timeout.
    The caller polls again for what is left of its wait.
    """
    read = LADDER[max(bisect.bisect_right(LADDER, budget) - 1, 0)]
    room = read - min(attempt / 2, 1.0)
    return read, max(0, min(poll, math.floor(room)))


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
        self.get(None)

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

    def get(self, timeout: float | None, *, outlast: bool = False) -> Any:
        """The client for an attempt of ``timeout`` seconds (None: the config's read timeout), see `timeout_slot`."""
        configured = self._config.read_timeout
        return self.at(timeout_slot(configured if timeout is None else timeout, configured=configured, outlast=outlast))

    def at(self, slot: float) -> Any:
        """The client whose read timeout is ``slot`` (the configured one or a step of the ladder)."""
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

"""The boto3 drop-in's entry points: `client`, and `patch` / `unpatch` for code that calls boto3 itself.

``failover.compat.boto3.client("s3", config=...)`` is a real botocore client built from the
caller's arguments; the operations the drop-in covers, on mapped buckets, are answered through
`FailoverStorage` by the client's own event hooks (DESIGN section 10). Everything else goes to
the endpoint unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3 as _boto3

from failover.compat._backends import Backends, StorageSource
from failover.compat._hooks import install_s3
from failover.compat._mapping import caller_aws
from failover.compat._s3 import HANDLERS
from failover.config import FailoverConfig, load_config
from failover.errors import ConfigError

__all__ = ["client", "close"]

ConfigSource = FailoverConfig | str | os.PathLike[str] | None


def _config(config: ConfigSource) -> FailoverConfig | None:
    if config is None or isinstance(config, FailoverConfig):
        return config
    return load_config(config)


def client(
    service: str,
    *,
    config: ConfigSource = None,
    storage: StorageSource | None = None,
    session: Any = None,
    **boto3_kwargs: Any,
) -> Any:
    """A boto3 client of ``service`` ("s3" or "sqs") whose mapped buckets or queues fail over.

    ``config`` is a `FailoverConfig` or the path of its TOML file; its ``[boto3]`` table maps names
    to endpoints, and the caller's own endpoint (``boto3_kwargs``: region, endpoint, credentials) is
    the first of them. ``storage`` instead gives the storages by bucket name (tests, benchmarks).
    """
    factory: Callable[..., Any] = (session or _boto3).client
    made = factory(service, **boto3_kwargs)
    if service == "s3":
        backends = Backends(config=_config(config), aws=caller_aws(boto3_kwargs), storage=storage)
        install_s3(made, backends, HANDLERS)
        made.meta.failover_backends = backends  # kept alive with the client; `close` releases it
    else:
        raise ConfigError(f"the drop-in covers s3 and sqs, not {service!r}", field="service")
    return made


def close(made: Any) -> None:
    """Close the failover backends a drop-in client built (journals, replicators)."""
    backends = getattr(made.meta, "failover_backends", None)
    if backends is not None:
        backends.close()

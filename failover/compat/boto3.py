"""The boto3 drop-in's entry points: `client`, and `patch` / `unpatch` for code that calls boto3 itself.

``failover.compat.boto3.client("s3", config=...)`` is a real botocore client built from the
caller's arguments; the operations the drop-in covers, on mapped buckets, are answered through
`FailoverStorage` by the client's own event hooks (DESIGN section 10). Everything else goes to
the endpoint unchanged.

``patch(config)`` makes ``boto3.client``, ``boto3.Session().client`` and ``boto3.resource`` (which
builds its client through the session) return such clients for S3; ``unpatch()`` restores boto3.
The backends of one patch are shared by every client made with the same endpoint and credentials,
so a client made per request costs no new journal or replicator.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import boto3 as _boto3
from boto3.session import Session as _BotoSession
from botocore.config import Config as BotocoreConfig

from failover.compat._backends import Backends, StorageSource
from failover.compat._hooks import install_s3, install_sqs
from failover.compat._mapping import caller_aws
from failover.compat._queue_backends import QueueBackends, QueueSource
from failover.compat._s3 import HANDLERS
from failover.compat._s3.buckets import BUCKET_HANDLERS
from failover.compat._sqs import HANDLERS as SQS_HANDLERS
from failover.config import FailoverConfig, load_config
from failover.errors import ConfigError

__all__ = ["Patch", "Session", "client", "close", "patch", "resource", "unpatch"]

ConfigSource = FailoverConfig | str | os.PathLike[str] | None
SERVICES = ("s3", "sqs")
DEFAULT_ACCOUNT = "000000000000"


def _config(config: ConfigSource) -> FailoverConfig | None:
    if config is None or isinstance(config, FailoverConfig):
        return config
    return load_config(config)


def _backends(
    made: Any, service: str, config: FailoverConfig | None, aws: dict[str, Any], given: Any
) -> Backends | QueueBackends:
    if service == "s3":
        return Backends(config=config, aws=aws, storage=given)
    account = config.boto3.account_id if config is not None else DEFAULT_ACCOUNT
    return QueueBackends(config=config, aws=aws, queues=given, url_base=f"{made.meta.endpoint_url}/{account}")


def _attach(made: Any, service: str, backends: Backends | QueueBackends) -> Any:
    if isinstance(backends, Backends):
        install_s3(made, backends, HANDLERS, BUCKET_HANDLERS)
    else:
        install_sqs(made, backends, SQS_HANDLERS)
    made.meta.failover_backends = backends
    return made


def client(
    service: str,
    *,
    config: ConfigSource | BotocoreConfig = None,
    failover_config: ConfigSource = None,
    storage: StorageSource | None = None,
    queues: QueueSource | None = None,
    session: _BotoSession | None = None,
    **boto3_kwargs: Any,
) -> Any:
    """A boto3 client of ``service`` ("s3") whose mapped buckets fail over.

    ``config`` is a `FailoverConfig` or the path of its TOML file; a botocore ``Config`` there goes
    to boto3 as ``config`` does, so ``boto3.client(...)`` becomes ``compat.client(...)`` with the
    same arguments (the failover configuration then comes from ``failover_config``, else
    ``$FAILOVER_CONFIG`` and the environment, as `load_config` reads them). Its ``[boto3]`` table
    maps names to endpoints, and the caller's own endpoint (``boto3_kwargs``: region, endpoint,
    credentials) is the first of them. ``storage`` instead gives the storages by bucket name (tests,
    benchmarks), and ``queues`` the queues by name. Release the backends with `close` when the client
    is done with.
    """
    if service not in SERVICES:
        raise ConfigError(f"the drop-in covers {', '.join(SERVICES)}, not {service!r}", field="service")
    if isinstance(config, BotocoreConfig):
        boto3_kwargs["config"] = config
    elif config is not None:
        failover_config = config
    factory: Callable[..., Any] = (session or _boto3).client
    made = factory(service, **boto3_kwargs)
    given = storage if service == "s3" else queues
    resolved = _config(failover_config) if given is not None or failover_config is not None else load_config()
    return _attach(made, service, _backends(made, service, resolved, caller_aws(boto3_kwargs), given))


def close(made: Any) -> None:
    """Close the failover backends a drop-in client built (journals, replicators)."""
    backends = getattr(made.meta, "failover_backends", None)
    if backends is not None:
        backends.close()


class Session(_BotoSession):
    """boto3's Session whose S3 and SQS clients, and the resources built on them, fail over.

    ``failover_config`` is a `FailoverConfig` or a TOML path (None: ``$FAILOVER_CONFIG``, read on
    the first S3 or SQS client); every other argument is boto3's.
    """

    def __init__(self, *args: Any, failover_config: ConfigSource = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failover_source = failover_config
        self._failover_resolved: FailoverConfig | None = None

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        plain: Any = _BotoSession.client
        made = plain(self, service_name, *args, **kwargs)
        if service_name not in SERVICES:
            return made
        if self._failover_resolved is None:
            self._failover_resolved = _config(self._failover_source) or load_config()
        aws = _session_aws(self, made, kwargs)
        return _attach(made, service_name, _backends(made, service_name, self._failover_resolved, aws, None))


def resource(service_name: str, *args: Any, failover_config: ConfigSource = None, **kwargs: Any) -> Any:
    """``boto3.resource`` whose S3 and SQS resources fail over (each call makes its own backends)."""
    session: Any = Session(failover_config=failover_config)
    return session.resource(service_name, *args, **kwargs)


def __getattr__(name: str) -> Any:
    # Everything else boto3 offers (set_stream_logger, DEFAULT_SESSION, s3.transfer, ...) is boto3's,
    # so that swapping the import is the one change an application makes.
    return getattr(_boto3, name)


def _session_aws(session: _BotoSession, made: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    aws = caller_aws(kwargs)
    aws.setdefault("region", made.meta.region_name)
    if "access_key_id" not in aws and "profile" not in aws:
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            aws.update(access_key_id=frozen.access_key, secret_access_key=frozen.secret_key)
            if frozen.token:
                aws["session_token"] = frozen.token
    return {name: value for name, value in aws.items() if value is not None}


def _called_by_failover() -> bool:
    """Whether the code asking boto3 for this client is failover's own (its S3 and SQS adapters):
    those clients are the endpoints the drop-in fails over between, and must stay plain."""
    frame = sys._getframe(3)  # above this, make_client and the patched method
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith("boto3"):
            return module.startswith("failover.") and not module.startswith("failover.compat")
        frame = frame.f_back  # type: ignore[assignment]
    return False


class Patch:
    """boto3 patched to hand out drop-in clients; a context manager that unpatches on exit."""

    def __init__(self, config: FailoverConfig, original: Callable[..., Any]) -> None:
        self.config = config
        self._original = original
        self._backends: dict[tuple[str, tuple[tuple[str, str], ...]], Backends | QueueBackends] = {}
        self._lock = threading.Lock()

    def make_client(self, session: _BotoSession, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made = self._original(session, service_name, *args, **kwargs)
        if service_name not in SERVICES or _called_by_failover():
            return made
        aws = _session_aws(session, made, kwargs)
        key = (service_name, tuple(sorted((name, str(value)) for name, value in aws.items())))
        with self._lock:
            backends = self._backends.get(key)
            if backends is None:
                backends = self._backends[key] = _backends(made, service_name, self.config, aws, None)
        return _attach(made, service_name, backends)

    def close(self) -> None:
        with self._lock:
            built, self._backends = self._backends, {}
        for backends in built.values():
            backends.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        unpatch()


_active: Patch | None = None
_patch_lock = threading.Lock()


def patch(config: ConfigSource = None) -> Patch:
    """Make boto3 hand out drop-in S3 clients for the buckets ``config`` maps, until `unpatch`.

    ``with patch(config): ...`` unpatches on leaving the block. Clients made before the patch stay
    as they are; other services and unmapped buckets are untouched.
    """
    global _active
    resolved = _config(config) or load_config()
    with _patch_lock:
        if _active is not None:
            raise ConfigError("boto3 is patched already: unpatch() first", field="patch")
        original = _BotoSession.client
        active = Patch(resolved, original)

        def patched_client(session: _BotoSession, service_name: str, *args: Any, **kwargs: Any) -> Any:
            return active.make_client(session, service_name, *args, **kwargs)

        patched_client.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(_BotoSession, "client", patched_client)  # noqa: B010 - the overloaded method cannot be assigned typed
        _active = active
    return active


def unpatch() -> None:
    """Restore boto3's own ``Session.client`` and close the backends the patch built; no-op if unpatched."""
    global _active
    with _patch_lock:
        active, _active = _active, None
        if active is None:
            return
        setattr(_BotoSession, "client", active._original)  # noqa: B010
    active.close()

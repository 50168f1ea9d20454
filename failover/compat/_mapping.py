"""From an application's bucket or queue name to the endpoints that hold it on each provider.

The first ``[[boto3.buckets]]`` (``[[boto3.queues]]``) entry whose ``match`` fits the name wins; its
templates name the bucket on the caller's own S3 (built from the boto3 client's arguments) and on
each ``[stores.NAME]``. Every name is checked against the naming rules of its provider before any
endpoint is built, so a name that cannot be mapped fails with a message that says which rule.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from failover.compat.config import BucketMap, QueueMap
from failover.config import (
    FailoverConfig,
    PubSubConfig,
    QueueConfig,
    S3Config,
    SqsConfig,
    StoreConfig,
)
from failover.errors import ConfigError

__all__ = ["NameMap", "NameRejected", "caller_aws"]

_LOWER_DNS = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# kind -> (pattern, the rule in words)
_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "s3": (
        re.compile(_LOWER_DNS + r"\Z"),
        "3 to 63 lower-case letters, digits, '.', '-', starting and ending alphanumeric",
    ),
    "gcs": (re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]\Z"), "3 to 63 lower-case letters, digits, '.', '_', '-'"),
    "azure_blob": (
        re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z"),
        "3 to 63 lower-case letters, digits, single '-'",
    ),
    "sqs": (re.compile(r"[A-Za-z0-9_-]{1,75}(\.fifo)?\Z"), "1 to 80 letters, digits, '-', '_' (and .fifo)"),
    "pubsub": (re.compile(r"(?!goog)[A-Za-z][A-Za-z0-9._~+%-]{2,254}\Z"), "3 to 255 characters starting with a letter"),
    "azure_queue": (
        re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z"),
        "3 to 63 lower-case letters, digits, single '-'",
    ),
}
_NAME_FIELD = {"s3": "bucket", "gcs": "bucket", "azure_blob": "container", "sqs": "queue", "azure_queue": "queue"}


class NameRejected(ValueError):
    """A name the mapping cannot place on some provider: which name, which provider, which rule."""


def _check(kind: str, name: str, logical: str) -> str:
    pattern, rule = _RULES[kind]
    if kind == "s3" and (".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)):
        raise NameRejected(f"{logical!r} maps to {name!r}, not a valid {kind} name: {rule}, no '..', not an IP")
    if not pattern.match(name):
        raise NameRejected(f"{logical!r} maps to {name!r}, not a valid {kind} name: {rule}")
    return name


def _renamed(config: Any, name: str) -> Any:
    if isinstance(config, PubSubConfig):
        return config.model_copy(update={"topic": name, "subscription": name, "name": None})
    return config.model_copy(update={_NAME_FIELD[config.kind]: name, "name": None})


def caller_aws(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The endpoint settings of a boto3 client's own arguments, as an S3Config/SqsConfig takes them."""
    fields: dict[str, Any] = {
        "region": kwargs.get("region_name"),
        "endpoint_url": kwargs.get("endpoint_url"),
        "access_key_id": kwargs.get("aws_access_key_id"),
        "secret_access_key": kwargs.get("aws_secret_access_key"),
        "session_token": kwargs.get("aws_session_token"),
    }
    botocore_config = kwargs.get("config")
    if botocore_config is not None:
        for option in ("connect_timeout", "read_timeout"):
            value = getattr(botocore_config, option, None)
            if isinstance(value, int | float):
                fields[option] = float(value)
    return {name: value for name, value in fields.items() if value is not None}


def _logical(
    entries: Sequence[BucketMap | QueueMap],
    templates: Sequence[tuple[BucketMap | QueueMap, str]],
    name: str,
    placeholder: str = "{bucket}",
) -> str | None:
    """The application's bucket (queue) that ``name`` is on a provider whose templates are ``templates``."""
    for entry, template in templates:
        before, _, after = template.partition(placeholder)
        if len(name) <= len(before) + len(after) or not (name.startswith(before) and name.endswith(after)):
            continue
        logical = name[len(before) : len(name) - len(after)]
        if next((e for e in entries if fnmatch.fnmatchcase(logical, e.match)), None) is entry:
            return logical
    return None


class NameMap:
    """The endpoints of each mapped bucket and queue, for one client's own AWS settings."""

    def __init__(self, config: FailoverConfig, aws: Mapping[str, Any]) -> None:
        self.config = config
        self._aws = dict(aws)
        for entry in config.boto3.buckets:
            self._check_references(entry.stores, config.stores, "stores", ("s3", "gcs", "azure_blob"))
            if entry.s3 is not None:
                _check("s3", entry.s3.format(bucket="abc"), entry.match)
        for queue_entry in config.boto3.queues:
            self._check_references(queue_entry.queues, config.queues, "queues", ("sqs", "pubsub", "azure_queue"))

    @staticmethod
    def _check_references(
        templates: Mapping[str, str], defined: Mapping[str, Any], table: str, kinds: tuple[str, ...]
    ) -> None:
        for name, template in templates.items():
            if name not in defined:
                raise ConfigError(f"[boto3] names {table}.{name}, which the configuration does not define", field=table)
            kind = defined[name].kind
            # A template whose fixed part breaks the provider's rules is wrong for every name.
            sample = template.format(bucket="abc", queue="abc")
            try:
                _check(kind, sample, "a name")
            except NameRejected as exc:
                raise ConfigError(f"[boto3] {table}.{name} = {template!r}: {exc}", field=table) from None
            assert kind in kinds

    def bucket(self, bucket: str) -> list[StoreConfig] | None:
        """The stores of ``bucket`` in order, or None when no entry maps it; raises `NameRejected`."""
        entry = next((e for e in self.config.boto3.buckets if fnmatch.fnmatchcase(bucket, e.match)), None)
        return None if entry is None else self._stores(entry, bucket)

    def _stores(self, entry: BucketMap, bucket: str) -> list[StoreConfig]:
        stores: list[StoreConfig] = []
        if entry.s3 is not None:
            stores.append(S3Config(bucket=_check("s3", entry.s3.format(bucket=bucket), bucket), **self._aws))
        for name, template in entry.stores.items():
            base = self.config.stores[name]
            stores.append(_renamed(base, _check(base.kind, template.format(bucket=bucket), bucket)))
        return stores

    def bucket_accounts(self) -> list[tuple[StoreConfig, Callable[[str], str | None]]]:
        """Each account the bucket mappings reach (the caller's S3 first, then each ``[stores.NAME]``
        a mapping names), with the function from a bucket name there to the application's name
        (None: not a mapped bucket). The caller's S3 keeps the names of its unmapped buckets, as S3's
        own listing would."""
        entries = self.config.boto3.buckets
        accounts: list[tuple[StoreConfig, Callable[[str], str | None]]] = []
        if any(entry.s3 is not None for entry in entries):
            own = [(entry, entry.s3) for entry in entries if entry.s3 is not None]
            accounts.append(
                (S3Config(bucket="placeholder", **self._aws), lambda name: _logical(entries, own, name) or name)
            )
        for store, base in self.config.stores.items():
            templates = [(entry, entry.stores[store]) for entry in entries if store in entry.stores]
            if templates:
                accounts.append((base, partial(_logical, entries, templates)))
        return accounts

    def queue_accounts(self) -> list[tuple[QueueConfig, Callable[[str], str | None]]]:
        """As `bucket_accounts`, for queues: the caller's SQS, then each ``[queues.NAME]`` a mapping names."""
        entries = self.config.boto3.queues
        accounts: list[tuple[QueueConfig, Callable[[str], str | None]]] = []
        own: list[tuple[BucketMap | QueueMap, str]] = [(e, e.sqs) for e in entries if e.sqs is not None]
        if own:
            sqs = SqsConfig(queue="placeholder", **self._aws)
            accounts.append((sqs, lambda name: _logical(entries, own, name, "{queue}") or name))
        for key, base in self.config.queues.items():
            templates: list[tuple[BucketMap | QueueMap, str]] = [(e, e.queues[key]) for e in entries if key in e.queues]
            if templates:
                accounts.append((base, partial(_logical, entries, templates, placeholder="{queue}")))
        return accounts

    def queue(self, queue: str) -> list[QueueConfig] | None:
        """The queues of ``queue`` in order, or None when no entry maps it; raises `NameRejected`."""
        entry = next((e for e in self.config.boto3.queues if fnmatch.fnmatchcase(queue, e.match)), None)
        return None if entry is None else self._queues(entry, queue)

    def _queues(self, entry: QueueMap, queue: str) -> list[QueueConfig]:
        queues: list[QueueConfig] = []
        if entry.sqs is not None:
            name = _check("sqs", entry.sqs.format(queue=queue), queue)
            queues.append(SqsConfig(queue=name, fifo=name.endswith(".fifo"), **self._aws))
        for key, template in entry.queues.items():
            base = self.config.queues[key]
            queues.append(_renamed(base, _check(base.kind, template.format(queue=queue), queue)))
        return queues

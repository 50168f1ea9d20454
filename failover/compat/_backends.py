"""The failover backends of one drop-in client: a `FailoverStorage` per mapped bucket, built on first use.

A backend is built from the configuration's ``[storage]`` and ``[engine]`` with the bucket's stores
in place of ``[stores.*]``; each bucket keeps its own journal (next to the configured one, named
after the bucket). Tests and benchmarks pass ready-made storages instead of a configuration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from failover.compat._mapping import NameMap
from failover.compat._when_back import Action, WhenBack
from failover.config import FailoverConfig
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage

__all__ = ["Backends", "StorageSource"]

StorageSource = Mapping[str, ObjectStore] | Callable[[str], "ObjectStore | None"]
"""Ready-made storages by logical bucket name, or a function from a bucket name to one (None: unmapped)."""


class Backends:
    """Storages by logical bucket name, from a configuration or from the caller."""

    def __init__(self, *, config: FailoverConfig | None, aws: Mapping[str, Any], storage: StorageSource | None) -> None:
        self._names = NameMap(config, aws) if config is not None else None
        self._given = storage
        self._storages: dict[str, ObjectStore | None] = {}
        self._lock = threading.Lock()
        self._when_back = WhenBack("failover-buckets")

    def storage(self, bucket: str) -> ObjectStore | None:
        """The storage of ``bucket``, or None when it is not mapped (its calls go to the endpoint)."""
        try:
            return self._storages[bucket]
        except KeyError:
            pass
        with self._lock:
            if bucket not in self._storages:
                self._storages[bucket] = self._build(bucket)
            return self._storages[bucket]

    def configs(self, bucket: str) -> list[Any] | None:
        """The store configurations of ``bucket`` (None: unmapped, or storages given ready-made)."""
        return None if self._names is None else self._names.bucket(bucket)

    def _build(self, bucket: str) -> ObjectStore | None:
        if self._given is not None:
            return self._given.get(bucket) if isinstance(self._given, Mapping) else self._given(bucket)
        assert self._names is not None
        stores = self._names.bucket(bucket)
        if stores is None:
            return None
        config = self._names.config
        journal = config.storage.journal
        if journal is not None:
            journal = journal.with_name(f"{journal.stem}-{bucket}{journal.suffix}")
        scoped = config.model_copy(update={"stores": {f"s{index}": store for index, store in enumerate(stores)}})
        return FailoverStorage.from_config(scoped, journal=journal)

    def when_back(self, bucket: str, missed: list[int], action: Action) -> None:
        """Apply ``action`` (create or delete the bucket) to the stores at ``missed`` (positions in
        its mapping) once each answers again (`failover.compat._when_back`)."""
        configs = self.configs(bucket)
        if configs is not None:
            self._when_back.add(bucket, {index: configs[index] for index in missed}, action)

    def create_when_back(self, bucket: str, missed: list[int]) -> None:
        from failover.compat._s3.buckets import ensure_bucket

        self.when_back(bucket, missed, ensure_bucket)

    def forget(self, bucket: str) -> None:
        """Close and drop the storage of ``bucket`` (deleted): the next call builds it again."""
        with self._lock:
            storage = self._storages.pop(bucket, None)
        if storage is not None and self._given is None:
            storage.close()

    @property
    def names(self) -> NameMap | None:
        return self._names

    def given(self) -> list[str]:
        """The bucket names of storages the caller gave as a mapping (none for a function or a config)."""
        return sorted(self._given) if isinstance(self._given, Mapping) else []

    def close(self) -> None:
        """Close the storages built here (not those the caller passed)."""
        self._when_back.close()
        with self._lock:
            built, self._storages = self._storages, {}
        if self._given is None:
            for storage in built.values():
                if storage is not None:
                    storage.close()

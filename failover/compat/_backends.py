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
from failover.config import FailoverConfig
from failover.interfaces import ObjectStore
from failover.storage import FailoverStorage

_CREATE_EVERY = 1.0  # seconds between tries to create a bucket on a store that missed it

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
        # bucket -> position in its mapping -> (store config, what is still to do there)
        self._waiting: dict[str, dict[int, tuple[Any, Callable[[Any], bool]]]] = {}
        self._creator: threading.Thread | None = None
        self._closed = threading.Event()

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

    def when_back(self, bucket: str, missed: list[int], action: Callable[[Any], bool]) -> None:
        """Apply ``action`` (create or delete the bucket; True once done) to the stores at ``missed``
        (positions in its mapping) once each answers again; the latest action per store wins. A
        thread of its own tries every second: a store whose bucket is missing stays DOWN (a missing
        bucket is that store's fault), so waiting for it to be HEALTHY would wait forever."""
        configs = self.configs(bucket)
        if configs is None:
            return
        with self._lock:
            self._waiting.setdefault(bucket, {}).update({index: (configs[index], action) for index in missed})
            if self._creator is None or not self._creator.is_alive():
                self._creator = threading.Thread(target=self._apply_waiting, name="failover-buckets", daemon=True)
                self._creator.start()

    def create_when_back(self, bucket: str, missed: list[int]) -> None:
        from failover.compat._s3.buckets import ensure_bucket

        self.when_back(bucket, missed, ensure_bucket)

    def _apply_waiting(self) -> None:
        while not self._closed.wait(_CREATE_EVERY):
            with self._lock:
                pending = [(bucket, index, todo) for bucket, w in self._waiting.items() for index, todo in w.items()]
                if not pending:
                    self._creator = None
                    return
            for bucket, index, (config, action) in pending:
                if action(config):
                    with self._lock:
                        if self._waiting.get(bucket, {}).get(index, (None, None))[1] is action:
                            self._waiting[bucket].pop(index, None)

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
        self._closed.set()
        with self._lock:
            built, self._storages = self._storages, {}
        if self._given is None:
            for storage in built.values():
                if storage is not None:
                    storage.close()

"""The stores as the replicator sees them: each call's outcome reported to the endpoint's health.

Replication is real traffic: its copies measure every store's latency (in primary mode the
secondaries get no other traffic, and latency routing and brownout detection compare EWMAs), and
its failures count toward the breaker like a caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Literal, TypeVar

from failover.engine import Engine
from failover.errors import FailoverError
from failover.interfaces import Capabilities, Data, ListEntry, ObjectInfo, ObjectStore
from failover.reader import ObjectReader

__all__ = ["MeasuredStore"]

T = TypeVar("T")


class MeasuredStore:
    """``store``, with each call's latency or error told to ``engine.record``."""

    def __init__(self, store: ObjectStore, engine: Engine[ObjectStore]) -> None:
        self.store = store
        self._engine = engine
        self._clock = engine.clock

    def _measure(self, call: Callable[[], T]) -> T:
        started = self._clock.monotonic()
        try:
            value = call()
        except FailoverError as exc:
            self._engine.record(self.store.name, self._clock.monotonic() - started, exc)
            raise
        self._engine.record(self.store.name, self._clock.monotonic() - started)
        return value

    @property
    def name(self) -> str:
        return self.store.name

    @property
    def provider(self) -> str:
        return self.store.provider

    @property
    def capabilities(self) -> Capabilities:
        return self.store.capabilities

    def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: Literal["*"] | None = None,
        if_match: str | None = None,
        timeout: float | None = None,
    ) -> ObjectInfo:
        return self._measure(
            lambda: self.store.put(
                key,
                data,
                content_type=content_type,
                metadata=metadata,
                if_none_match=if_none_match,
                if_match=if_match,
                timeout=timeout,
            )
        )

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        return self._measure(lambda: self.store.get(key, byte_range=byte_range, timeout=timeout))

    def get_bytes(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> bytes:
        return self._measure(lambda: self.store.get_bytes(key, byte_range=byte_range, timeout=timeout))

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        return self._measure(lambda: self.store.head(key, timeout=timeout))

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        if if_match is None:  # a store that predates conditional deletes takes no if_match
            self._measure(lambda: self.store.delete(key, timeout=timeout))
        else:
            self._measure(lambda: self.store.delete(key, if_match=if_match, timeout=timeout))

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        return self.store.list(prefix, delimiter=delimiter, timeout=timeout)

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        return self._measure(lambda: self.store.copy(src, dst, timeout=timeout))

    def close(self) -> None:
        pass  # the FailoverStorage closes the stores it was given

    def __repr__(self) -> str:
        return f"MeasuredStore({self.store!r})"

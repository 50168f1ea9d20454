"""A trace of every call the run's stores received, the replicator's included, on the history's clock.

When the checker finds a stale read or a lost write, the calls on that key say which store served
what, and which copy or delete put it there: the evidence a bug report needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from failover.adapters._common import VERSION_KEY
from failover.errors import NotFound
from failover.interfaces import Data, ObjectInfo, ObjectStore
from failover.reader import ObjectReader
from failover.testing.faulty import FaultyStore

__all__ = ["Call", "Trace", "TracingStore"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    start: int
    end: int
    thread: str
    store: str
    operation: str
    key: str
    sent: str  # what a put carried: its version stamp and its condition
    result: str  # the version read or written, "absent", "deleted", or the error

    def __str__(self) -> str:
        sent = f" {self.sent}" if self.sent else ""
        return f"{self.start}-{self.end} {self.thread} {self.store}.{self.operation}({self.key}{sent}) -> {self.result}"


class Trace:
    """Calls on the stores, appended by every thread; ``tick`` is the history's clock."""

    def __init__(self, tick: Callable[[], int]) -> None:
        self.tick = tick
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def of(self, key: str, since: int = 0, until: int | None = None) -> Sequence[Call]:
        with self._lock:
            calls = list(self._calls)
        return [c for c in calls if c.key == key and c.end >= since and (until is None or c.start <= until)]


def _version(info: ObjectInfo) -> str:
    return f"{info.version} {(info.sha256 or '')[:8]}"


class TracingStore(FaultyStore):
    """An `ObjectStore` that records each put, get, head and delete in a `Trace`."""

    def __init__(self, inner: ObjectStore, trace: Trace, *, keys: str) -> None:
        super().__init__(inner)
        self._trace = trace
        self._keys = keys  # only keys under this prefix are traced

    def _traced(self, operation: str, key: str, sent: str, call: Callable[[], T], result: Callable[[T], str]) -> T:
        if not key.startswith(self._keys):
            return call()
        start = self._trace.tick()
        try:
            value = call()
        except NotFound:
            self._record(start, operation, key, sent, "absent")
            raise
        except Exception as exc:
            self._record(start, operation, key, sent, type(exc).__name__)
            raise
        self._record(start, operation, key, sent, result(value))
        return value

    def _record(self, start: int, operation: str, key: str, sent: str, result: str) -> None:
        name = threading.current_thread().name
        self._trace.add(Call(start, self._trace.tick(), name, self.provider, operation, key, sent, result))

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
        condition = "if-none-match" if if_none_match else (f"if-match {if_match}" if if_match else "")
        sent = f"{(metadata or {}).get(VERSION_KEY)} {condition}".strip()

        def call() -> ObjectInfo:
            return super(TracingStore, self).put(
                key,
                data,
                content_type=content_type,
                metadata=metadata,
                if_none_match=if_none_match,
                if_match=if_match,
                timeout=timeout,
            )

        return self._traced("put", key, sent, call, _version)

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        def call() -> ObjectReader:
            return super(TracingStore, self).get(key, byte_range=byte_range, timeout=timeout)

        return self._traced("get", key, "", call, lambda reader: _version(reader.info))

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        def call() -> ObjectInfo:
            return super(TracingStore, self).head(key, timeout=timeout)

        return self._traced("head", key, "", call, _version)

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        def call() -> None:
            super(TracingStore, self).delete(key, if_match=if_match, timeout=timeout)

        self._traced("delete", key, "", call, lambda _: "deleted")

"""What the replicator tests share: stores that record and fail on cue, and a world of three."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.errors import ProviderUnavailable, Reason
from failover.interfaces import Capabilities, Data, ObjectInfo
from failover.reader import ObjectReader
from failover.replication.journal import Op, SqliteJournal
from failover.replication.replicator import Backoff, Replicator
from failover.replication.stamps import VersionStamp


def v(n: int, writer: str = "w") -> str:
    """The text stamp of millisecond ``n``."""
    return str(VersionStamp(n, 0, writer))


class Store(MemoryStore):
    """A MemoryStore that records puts, can be taken down, and can run a hook just before a put."""

    def __init__(self, name: str, *, capabilities: Capabilities | None = None) -> None:
        super().__init__(name, capabilities=capabilities)
        self.down = False
        self.calls = 0
        self.puts: list[tuple[str, str | None, str | None, str | None]] = []  # key, version, if_none_match, if_match
        self.bodies: list[type] = []
        self.before_put: Callable[[], object] | None = None
        self.corrupt = False

    def _call(self) -> None:
        self.calls += 1
        if self.down:
            raise ProviderUnavailable("connection refused", provider=self.name, reason=Reason.REFUSED)

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
        self._call()
        if self.before_put is not None:
            hook, self.before_put = self.before_put, None
            hook()
        self.bodies.append(type(data))
        if self.corrupt:
            data = data.read() + b"!" if not isinstance(data, bytes | bytearray | memoryview) else bytes(data) + b"!"
        info = super().put(
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
        )
        self.puts.append((key, (metadata or {}).get("failover_version"), if_none_match, if_match))
        return info

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        self._call()
        return super().head(key)

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        self._call()
        return super().get(key, byte_range=byte_range)

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        self._call()
        super().delete(key, if_match=if_match)


class World:
    """Three stores, a journal, a manual clock, and the writes FailoverStorage would make."""

    def __init__(self, path: Path, *, capabilities: Capabilities | None = None) -> None:
        self.clock = ManualClock(start=1000.0)
        self.journal = SqliteJournal(path / "journal.db", wall=self.clock.monotonic)
        self.stores = {name: Store(name, capabilities=capabilities) for name in ("a", "b", "c")}
        self.down: set[str] = set()
        self.progress: list[tuple[int, int, str]] = []

    def replicator(self, **options: object) -> Replicator:
        defaults: dict[str, object] = {
            "clock": self.clock,
            "wall": self.clock.monotonic,
            "is_available": lambda name: name not in self.down,
            "on_progress": lambda *args: self.progress.append(args),
            "backoff": Backoff(base=1.0, cap=60.0, jitter=lambda: 0.0),
        }
        return Replicator(self.stores, self.journal, **{**defaults, **options})  # type: ignore[arg-type]

    def write(
        self, key: str, data: bytes, version: str, *, source: str = "a", pending: tuple[str, ...] = ("b", "c")
    ) -> ObjectInfo:
        info = self.stores[source].put(key, data, content_type="text/plain", metadata={"failover_version": version})
        assert info.sha256 is not None
        self.journal.append(key, version, info.sha256, info.size, source, pending)
        return info

    def delete(self, key: str, version: str, *, source: str = "a", pending: tuple[str, ...] = ("b", "c")) -> None:
        self.stores[source].delete(key)
        self.journal.append(key, version, None, 0, source, pending, Op.DELETE)

    def state(self, store: str, key: str) -> tuple[str | None, bytes] | None:
        raw = self.stores[store]
        if key not in {entry.key for entry in raw.list(key) if isinstance(entry, ObjectInfo)}:
            return None
        return MemoryStore.head(raw, key).version, MemoryStore.get_bytes(raw, key)


class Slow(MemoryStore):
    """A MemoryStore whose puts wait while ``hold`` is clear (set by default); ``entered`` is set
    when a put starts waiting."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()

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
        if not self.hold.is_set():
            self.entered.set()
            self.hold.wait(30)
        return super().put(
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
            timeout=timeout,
        )

"""A writer process for the journal's crash test, and the directory-backed store it writes to.

Run as ``python -m tests.unit.journal_worker ROOT MODE``: it writes versions of many keys to store
``a`` (a `DirStore` under ROOT), journals each write as pending on store ``b``, and replicates to
``b`` with a `Replicator`, until the test kills it with SIGKILL. `DirStore` keeps its objects in
files, so the test's own process (a new one) can finish the replication from the same journal and
compare the stores. MemoryStore cannot serve here: it lives and dies with its process.

Modes:
- ``concurrent``: write and replicate at once; print ``WRITES_DONE`` when every write is acknowledged
  and keep replicating until killed.
- ``kill-at-N``: write everything first, then replicate, and SIGKILL itself right after the N-th put
  lands on ``b``, before the replicator can mark it done.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Literal

from failover._streams import iter_chunks
from failover.adapters._common import prepare_put, split_metadata
from failover.errors import NotFound, PreconditionFailed
from failover.interfaces import Capabilities, CommonPrefix, Data, ListEntry, ObjectInfo, ObjectReader
from failover.replication.journal import Op, SqliteJournal
from failover.replication.replicator import Replicator
from failover.replication.stamps import HybridClock

KEYS = 30
ROUNDS = 3
DELETED = ("key-03", "key-11", "key-17", "key-29")
PUT_LOG = "puts.log"


class DirStore:
    """An `ObjectStore` in a directory: one file an object (a JSON header line, then the body),
    replaced atomically; conditional writes under a file lock, so they hold across processes.
    Every put that lands is logged as ``key version`` in ``puts.log``."""

    def __init__(self, root: Path, name: str, *, put_delay: float = 0.0, kill_at: int | None = None) -> None:
        self.root = root / name
        self.root.mkdir(parents=True, exist_ok=True)
        self._name = name
        self._put_delay = put_delay
        self._kill_at = kill_at
        self._landed = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return "dir"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_object_size=2**30, conditional_delete=True)

    def _path(self, key: str) -> Path:
        return self.root / (key.encode().hex() + ".obj")

    def _lock(self) -> IO[str]:
        handle = open(self.root / ".lock", "a")  # noqa: SIM115 - released by _unlock
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def _read_header(self, handle: IO[bytes], key: str) -> ObjectInfo:
        header = json.loads(handle.readline())
        user, sha256, version = split_metadata(header["metadata"])
        return ObjectInfo(
            key=key,
            size=header["size"],
            provider=self.provider,
            content_type=header["content_type"],
            metadata=user,
            etag=header["etag"],
            sha256=sha256,
            version=version,
        )

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
        prepared = prepare_put(
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
            capabilities=self.capabilities,
            provider=self.provider,
        )
        if self._put_delay:
            time.sleep(self._put_delay)
        header = {
            "size": prepared.body.size,
            "content_type": content_type,
            "metadata": prepared.metadata,
            "etag": uuid.uuid4().hex,
        }
        temporary = self.root / f".{uuid.uuid4().hex}.tmp"
        try:
            with open(temporary, "wb") as out:
                out.write(json.dumps(header).encode() + b"\n")
                for chunk in iter_chunks(prepared.body.stream):
                    out.write(chunk)
        finally:
            prepared.body.close()
        lock = self._lock()
        try:
            current = self._head_or_none(key)
            if (if_none_match == "*" and current is not None) or (
                if_match is not None and (current is None or current.etag != if_match)
            ):
                temporary.unlink()
                raise PreconditionFailed("condition not met", provider=self.provider, operation="put", key=key)
            os.replace(temporary, self._path(key))
            with open(self.root / PUT_LOG, "a") as log:
                log.write(f"{key} {prepared.metadata.get('failover_version')}\n")
        finally:
            lock.close()
        self._landed += 1
        if self._landed == self._kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.head(key)

    def _head_or_none(self, key: str) -> ObjectInfo | None:
        try:
            return self.head(key)
        except NotFound:
            return None

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        try:
            handle = open(self._path(key), "rb")  # noqa: SIM115 - closed by the reader
        except FileNotFoundError:
            raise NotFound("no such key", provider=self.provider, operation="get", key=key) from None
        info = self._read_header(handle, key)
        return ObjectReader(info, iter_chunks(handle), close=handle.close)

    def get_bytes(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> bytes:
        with self.get(key) as reader:
            return reader.read()

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        try:
            with open(self._path(key), "rb") as handle:
                return self._read_header(handle, key)
        except FileNotFoundError:
            raise NotFound("no such key", provider=self.provider, operation="head", key=key) from None

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        lock = self._lock()
        try:
            current = self._head_or_none(key)
            if current is not None and if_match is not None and current.etag != if_match:
                raise PreconditionFailed("if_match", provider=self.provider, operation="delete", key=key)
            self._path(key).unlink(missing_ok=True)
        finally:
            lock.close()

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        for path in sorted(self.root.glob("*.obj")):
            key = bytes.fromhex(path.stem).decode()
            if key.startswith(prefix):
                try:
                    yield self.head(key)
                except NotFound:
                    continue

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        with self.get(src) as reader:
            info = reader.info
            return self.put(dst, reader.read(), content_type=info.content_type, metadata=dict(info.metadata))

    def close(self) -> None:
        pass

    def stored_keys(self) -> set[str]:
        return {entry.key for entry in self.list() if not isinstance(entry, CommonPrefix)}

    def landed(self) -> builtins.list[tuple[str, str]]:
        """Every put that landed, in order, as (key, version)."""
        path = self.root / PUT_LOG
        lines = path.read_text().splitlines() if path.exists() else []
        return [(key, version) for key, version in (line.split(" ") for line in lines)]


def write_all(store: DirStore, journal: SqliteJournal, clock: HybridClock) -> None:
    """What FailoverStorage in primary mode does: write to ``a``, journal ``b`` as pending, then ack."""
    for round_ in range(ROUNDS):
        for n in range(KEYS):
            key = f"key-{n:02d}"
            version = str(clock.now())
            info = store.put(key, f"{key} round {round_}".encode(), metadata={"failover_version": version})
            journal.append(key, version, info.sha256, info.size, "a", ["b"])
    for key in DELETED:
        version = str(clock.now())
        store.delete(key)
        journal.append(key, version, None, 0, "a", ["b"], Op.DELETE)


def main(root: Path, mode: str) -> None:
    kill_at = int(mode.removeprefix("kill-at-")) if mode.startswith("kill-at-") else None
    source = DirStore(root, "a")
    target = DirStore(root, "b", put_delay=0.02 if mode == "concurrent" else 0.0, kill_at=kill_at)
    journal = SqliteJournal(root / "journal.db")
    replicator = Replicator({"a": source, "b": target}, journal, poll_interval=0.005)
    clock = HybridClock("writer")
    if mode == "concurrent":
        replicator.start()
        write_all(source, journal, clock)
        replicator.wake()
        print("WRITES_DONE", flush=True)
        threading.Event().wait()  # replicate until killed
    else:
        write_all(source, journal, clock)
        replicator.drain()
        print("NOT KILLED", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])

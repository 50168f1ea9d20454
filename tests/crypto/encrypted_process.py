"""One side of the two-process encryption tests, run as ``python -m tests.crypto.encrypted_process FILE``.

FILE holds a pickled `Side`. Each process builds its own adapters, its own `FailoverStorage` (its own
journal) or `FailoverQueue`, and its own keyring from `CONFIG` and the environment
(``FAILOVER_ENCRYPTION_KEY_PROC``, which the test sets: the file's value is a placeholder that would
fail to decode). A writer does the first half of its work, prints ``half`` and waits for a line on
stdin (the test heals S3/SQS in between), does the second half and, for storage, drains its
journal (the application's `drain()` before exit). A reader writes what it read as JSON to
``FILE.out``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from failover.adapters.aws import S3Store, SqsQueue
from failover.adapters.azure import AzureQueue
from failover.adapters.gcp import GcsStore
from failover.config import AzureQueueConfig, GcsConfig, S3Config, SqsConfig
from failover.crypto import EncryptedQueue, EncryptedStorage
from failover.crypto.config import EncryptionConfig
from failover.engine import EngineSettings
from failover.interfaces import ObjectStore
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage

CONFIG = EncryptionConfig(active="proc", keys={"proc": SecretStr("set-in-the-environment")})
SETTINGS = EngineSettings(attempt_timeout=1.0, probe_timeout=1.0, deadline=5.0)
# Sizes around the segment (64 KiB) and several segments long; each object is written once.
SIZES = (0, 1, 65535, 65536, 65537, 200 * 1024, 1024 * 1024 + 7, 3)
MESSAGES = 8


def object_body(n: int) -> bytes:
    return (hashlib.sha256(b"object %d" % n).digest() * (SIZES[n] // 32 + 1))[: SIZES[n]]


def object_key(n: int) -> str:
    return f"proc/{n:02d}"


def message_body(n: int) -> bytes:
    return hashlib.sha256(b"message %d" % n).digest() * (n + 1)


def message_attributes(n: int) -> dict[str, str]:
    return {"n": str(n), "note": f"attribute of message {n}"}


@dataclass(frozen=True)
class Side:
    role: Literal["object-writer", "object-reader", "producer", "consumer"]
    s3: S3Config
    gcs: GcsConfig
    sqs: SqsConfig
    azure: AzureQueueConfig
    journal: Path
    within: float = 40.0


def _wait_for_the_heal() -> None:
    print("half", flush=True)
    sys.stdin.readline()


def _write_objects(side: Side) -> None:
    inner = FailoverStorage([S3Store(side.s3), GcsStore(side.gcs)], journal=side.journal, settings=SETTINGS)
    storage = EncryptedStorage(inner, CONFIG.keyring())
    try:
        for n in range(len(SIZES)):
            if n == len(SIZES) // 2:
                _wait_for_the_heal()
            storage.put(object_key(n), object_body(n), content_type="application/x-proc", metadata={"n": str(n)})
        inner.drain(timeout=30.0)
    finally:
        storage.close()


def _read_objects(side: Side) -> dict[str, Any]:
    keys = CONFIG.keyring()
    failover = EncryptedStorage(
        FailoverStorage([S3Store(side.s3), GcsStore(side.gcs)], journal=side.journal, settings=SETTINGS), keys
    )
    alone: dict[str, ObjectStore] = {"s3": EncryptedStorage(S3Store(side.s3), keys)}
    alone["gcs"] = EncryptedStorage(GcsStore(side.gcs), keys)
    read: dict[str, dict[str, Any]] = {}
    try:
        for name, store in {"failover": failover, **alone}.items():
            for n in range(len(SIZES)):
                with store.get(object_key(n)) as reader:
                    data = reader.read()
                    info = reader.info
                read.setdefault(name, {})[object_key(n)] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "metadata": dict(info.metadata),
                    "content_type": info.content_type,
                }
    finally:
        for store in (failover, *alone.values()):
            store.close()
    return read


def _queue(side: Side) -> EncryptedQueue:
    return EncryptedQueue(
        FailoverQueue([SqsQueue(side.sqs), AzureQueue(side.azure)], settings=SETTINGS), CONFIG.keyring()
    )


def _produce(side: Side) -> None:
    queue = _queue(side)
    try:
        for n in range(MESSAGES):
            if n == MESSAGES // 2:
                _wait_for_the_heal()
            queue.send(message_body(n), attributes=message_attributes(n), dedup_id=f"proc-{n}")
    finally:
        queue.close()


def _consume(side: Side) -> dict[str, Any]:
    queue = _queue(side)
    got: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + side.within
        while len(got) < MESSAGES and time.monotonic() < deadline:
            for message in queue.receive(10, wait=1.0, visibility=5.0):
                got[str(message.dedup_id)] = {
                    "sha256": hashlib.sha256(message.body).hexdigest(),
                    "attributes": dict(message.attributes),
                }
                queue.ack(message)
    finally:
        queue.close()
    return got


def run(side: Side, out: Path) -> None:
    if side.role == "object-writer":
        _write_objects(side)
    elif side.role == "producer":
        _produce(side)
    else:
        result = _read_objects(side) if side.role == "object-reader" else _consume(side)
        out.write_text(json.dumps(result))


if __name__ == "__main__":
    path = Path(sys.argv[1])
    run(pickle.loads(path.read_bytes()), path.with_suffix(".out"))

"""One side of the cross-process claim-check test, run as ``python -m tests.failover.claim_process FILE``.

FILE holds a pickled `Side`: the configurations (each process builds its own adapters, its own
`FailoverStorage` with its own journal, and its own `FailoverQueue` with default settings but for
short timeouts) and what to do. A producer sends `COUNT` bodies of `SIZE` bytes and exits; a consumer
receives until it has them all or `Side.within` seconds passed, acks each, and writes what it got
(failover_id to sha256) as JSON to ``FILE.out``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from failover.adapters.aws import S3Store, SqsQueue
from failover.adapters.azure import AzureQueue
from failover.adapters.gcp import GcsStore
from failover.config import AzureQueueConfig, GcsConfig, S3Config, SqsConfig
from failover.engine import EngineSettings
from failover.queue import FailoverQueue
from failover.storage import FailoverStorage

COUNT, SIZE = 5, 200 * 1024
SETTINGS = EngineSettings(attempt_timeout=1.0, probe_timeout=1.0, deadline=5.0)


@dataclass(frozen=True)
class Side:
    role: Literal["producer", "consumer"]
    mode: Literal["primary", "mirror"]
    s3: S3Config
    gcs: GcsConfig
    sqs: SqsConfig
    azure: AzureQueueConfig
    journal: Path
    within: float = 30.0


def body(n: int) -> bytes:
    return hashlib.sha256(b"%d" % n).digest() * (SIZE // 32)


def run(side: Side, out: Path) -> None:
    storage = FailoverStorage(
        [S3Store(side.s3), GcsStore(side.gcs)],
        mode=side.mode,
        write_quorum=1 if side.mode == "mirror" else None,
        journal=side.journal,
        settings=SETTINGS,
    )
    queue = FailoverQueue([SqsQueue(side.sqs), AzureQueue(side.azure)], settings=SETTINGS, claim_check=storage)
    try:
        if side.role == "producer":
            for n in range(COUNT):
                queue.send(body(n), dedup_id=f"claim-{n}")
            return
        got: dict[str, str] = {}
        deadline = time.monotonic() + side.within
        while len(got) < COUNT and time.monotonic() < deadline:
            for message in queue.receive(10, wait=1.0, visibility=2.0):
                got[str(message.dedup_id)] = hashlib.sha256(message.body).hexdigest()
                queue.ack(message)
        out.write_text(json.dumps({"got": got, "counters": dataclasses.asdict(queue.counters())}))
    finally:
        queue.close()
        storage.close()


if __name__ == "__main__":
    path = Path(sys.argv[1])
    run(pickle.loads(path.read_bytes()), path.with_suffix(".out"))

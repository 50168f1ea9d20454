"""A consumer process for the restart test, run as ``python -m tests.failover.consumer_process FILE``.

FILE holds a pickled `Consumer`. The process receives through its own `FailoverQueue` (SQS, then
Azure Queue) with the dedup window at ``Consumer.window`` (one SQLite file, shared with the process
that replaces it), and appends one JSON line per event to ``Consumer.log``, flushed before it goes on:

- ``handed``: `FailoverQueue.receive` returned the message to the application (written for the
  whole batch as soon as ``receive`` returns, before any of it is processed);
- ``processed``: the application's processing of it completed: its `ack` returned.

With ``die_mid_batch``, the first batch of two or more messages is processed up to its first message,
then the process prints ``dying`` and waits for the test's SIGKILL: the rest of that batch was handed
and not acked. Without it, the process receives until every id of ``expected`` has a ``processed``
event in any log of ``logs``, then for ``linger`` seconds more (a copy handed again after it was
processed would show then), and exits.
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from failover.adapters.aws import SqsQueue
from failover.adapters.azure import AzureQueue
from failover.config import AzureQueueConfig, SqsConfig
from failover.engine import EngineSettings
from failover.interfaces import Message
from failover.queue import FailoverQueue

SETTINGS = EngineSettings(attempt_timeout=1.0, probe_timeout=1.0, deadline=5.0)
VISIBILITY = 3.0


@dataclass(frozen=True)
class Consumer:
    sqs: SqsConfig
    azure: AzureQueueConfig
    window: Path
    log: Path
    logs: tuple[Path, ...]
    expected: frozenset[str]
    die_mid_batch: bool
    linger: float = 2 * VISIBILITY
    within: float = 60.0


def read_events(logs: tuple[Path, ...]) -> list[dict[str, str]]:
    """Every event of ``logs``, in their order (the logs of processes that ran one after the other)."""
    return [json.loads(line) for log in logs if log.exists() for line in log.read_text().splitlines() if line]


def _event(log: IO[str], kind: str, message: Message) -> None:
    log.write(json.dumps({"event": kind, "id": message.dedup_id, "queue": message.queue, "copy": message.id}) + "\n")
    log.flush()


def _processed(consumer: Consumer) -> set[str]:
    return {event["id"] for event in read_events(consumer.logs) if event["event"] == "processed"}


def run(consumer: Consumer) -> None:
    queue = FailoverQueue(
        [SqsQueue(consumer.sqs), AzureQueue(consumer.azure)], settings=SETTINGS, dedup=consumer.window
    )
    with queue, consumer.log.open("a") as log:
        deadline = time.monotonic() + consumer.within
        quiet_from: float | None = None
        while time.monotonic() < deadline:
            batch = queue.receive(10, wait=1.0, visibility=VISIBILITY)
            for message in batch:
                _event(log, "handed", message)
            for index, message in enumerate(batch):
                if consumer.die_mid_batch and len(batch) >= 2 and index == 1:
                    print("dying", flush=True)
                    time.sleep(600)  # the test kills the process here
                queue.ack(message)
                _event(log, "processed", message)
            if quiet_from is None and consumer.expected <= _processed(consumer):
                quiet_from = time.monotonic()
            if quiet_from is not None and time.monotonic() - quiet_from >= consumer.linger:
                return


if __name__ == "__main__":
    run(pickle.loads(Path(sys.argv[1]).read_bytes()))

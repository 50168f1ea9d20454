"""A consumer process SIGKILLed mid-batch and replaced, on the local clouds, with the dedup window.

The test sends 24 messages through a `FailoverQueue` (SQS, then Azure Queue) while SQS refuses
connections for a third of them, so both queues hold some, and a second copy of 4 of them (the same
failover_id, as a re-send after an ambiguous failover leaves) on Azure Queue. A consumer process
receives with the dedup window, is SIGKILLed after a receive, its batch's first message processed and
the rest not (see `tests.failover.consumer_process`), and a new consumer process with the same window
takes its place.

What the README promises, in the consumer's words (``handed``: `receive` returned the message to the
application; ``processed``: its `ack` returned after the application's work):

- every message sent is handed, and processed, at least once;
- with the dedup window, no message is handed again once it was processed: the copies of a
  failover_id are handed once, and the only messages handed twice are those the killed consumer was
  handed and had not processed (a crash repeats a message, it never loses one).
"""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from failover.adapters.aws import SqsQueue
from failover.adapters.azure import AzureQueue
from failover.queue import FailoverQueue
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.failover.consumer_process import SETTINGS, Consumer, read_events

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
FAST = {"connect_timeout": 0.5, "read_timeout": 2.0}
MESSAGES = 24
REFUSED = range(8, 16)  # sent while SQS refuses: they go to Azure Queue
SECOND_COPIES = (2, 5, 9, 20)


def _send(local_clouds: LocalClouds, name: str) -> frozenset[str]:
    aws, azure = local_clouds.aws, local_clouds.azure
    SqsQueue(aws.sqs_config(name)).close()  # the queues exist before the processes start
    with FaultProxy.in_front_of(aws.endpoint) as proxy:
        sqs = SqsQueue(aws.sqs_config(name, endpoint_url=f"http://127.0.0.1:{proxy.port}", ensure=False, **FAST))
        with FailoverQueue([sqs, AzureQueue(azure.azure_queue_config(name, **FAST))], settings=SETTINGS) as queue:
            for n in range(MESSAGES):
                if n == REFUSED.start:
                    proxy.set(Fault.refuse())
                elif n == REFUSED.stop:
                    proxy.clear()
                queue.send(b"body %d" % n, dedup_id=f"m-{n}")
    with FailoverQueue(
        [AzureQueue(azure.azure_queue_config(name, ensure=False, **FAST))], settings=SETTINGS
    ) as azure_only:
        for n in SECOND_COPIES:
            azure_only.send(b"body %d" % n, dedup_id=f"m-{n}")
    return frozenset(f"m-{n}" for n in range(MESSAGES))


def _consumer(
    local_clouds: LocalClouds, name: str, tmp_path: Path, log: str, *, die: bool, sent: frozenset[str]
) -> list[str]:
    consumer = Consumer(
        sqs=local_clouds.aws.sqs_config(name, ensure=False, **FAST),
        azure=local_clouds.azure.azure_queue_config(name, ensure=False, **FAST),
        window=tmp_path / "dedup.sqlite",
        log=tmp_path / log,
        logs=(tmp_path / "first.log", tmp_path / "second.log"),
        expected=sent,
        die_mid_batch=die,
    )
    path = tmp_path / f"{log}.pickle"
    path.write_bytes(pickle.dumps(consumer))
    return [sys.executable, "-m", "tests.failover.consumer_process", str(path)]


def test_consumer_killed_mid_batch_and_replaced_hands_every_message_and_none_again_once_processed(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    sent = _send(local_clouds, unique_name)
    first = _consumer(local_clouds, unique_name, tmp_path, "first.log", die=True, sent=sent)
    with subprocess.Popen(first, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        said = process.stdout.readline()
        process.send_signal(signal.SIGKILL)
        _, errors = process.communicate(timeout=30)
    assert said.strip() == "dying", f"the first consumer never reached a batch of two:\n{errors[-3000:]}"
    assert process.returncode == -signal.SIGKILL
    second = _consumer(local_clouds, unique_name, tmp_path, "second.log", die=False, sent=sent)
    done = subprocess.run(second, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"the second consumer failed:\n{done.stderr[-3000:]}"

    killed = read_events((tmp_path / "first.log",))
    in_flight = {e["id"] for e in killed if e["event"] == "handed"} - {
        e["id"] for e in killed if e["event"] == "processed"
    }
    events = read_events((tmp_path / "first.log", tmp_path / "second.log"))
    handed = Counter(e["id"] for e in events if e["event"] == "handed")
    processed = {e["id"] for e in events if e["event"] == "processed"}
    assert in_flight, "the first consumer was killed holding no unprocessed message"
    assert set(handed) == sent, f"never handed: {sorted(sent - set(handed))}; unknown: {sorted(set(handed) - sent)}"
    assert processed == sent, f"never processed: {sorted(sent - processed)}"
    done_before: set[str] = set()
    handed_after_processing = []
    for event in events:
        if event["event"] == "processed":
            done_before.add(event["id"])
        elif event["id"] in done_before:
            handed_after_processing.append(event)
    assert handed_after_processing == [], f"handed again once processed: {handed_after_processing}"
    twice = {message for message, times in handed.items() if times > 1}
    assert twice <= in_flight, f"handed twice without a crash in between: {sorted(twice - in_flight)}"
    assert twice == in_flight, f"held by the killed consumer and not handed again: {sorted(in_flight - twice)}"

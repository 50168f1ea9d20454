"""Encrypted objects and messages between two processes, each with its own keyring, on the local clouds.

A writer process (its own journal, its own keyring from the config and the environment) does half its
work while S3 and SQS refuse connections (S3 and SQS sit behind one proxy: moto serves both), so that
half goes to GCS / Azure Queue only; the test heals them and the writer does the rest. A second
process, with a keyring built the same way and nothing else in common, reads every object back
(through its own `FailoverStorage`, and from each cloud alone: the replicated ciphertext opens
everywhere) or receives every message, and the test compares bytes, metadata and attributes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from failover.adapters.aws import S3Store, SqsQueue
from failover.adapters.azure import AzureQueue
from failover.adapters.gcp import GcsStore
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.crypto.encrypted_process import (
    MESSAGES,
    SIZES,
    Side,
    message_attributes,
    message_body,
    object_body,
    object_key,
)

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
FAST = {"connect_timeout": 0.5, "read_timeout": 2.0}
SECRET = base64.b64encode(hashlib.sha256(b"the two-process test's master key").digest()).decode()


def _environment() -> dict[str, str]:
    return {**os.environ, "FAILOVER_ENCRYPTION_KEY_PROC": SECRET}


def _command(side: Side, path: Path) -> list[str]:
    path.write_bytes(pickle.dumps(side))
    return [sys.executable, "-m", "tests.crypto.encrypted_process", str(path)]


def _write_half_refused(side: Side, path: Path, proxy: FaultProxy) -> None:
    """Run the writer with the proxy refusing, heal it when the writer says ``half``, wait for the end."""
    proxy.set(Fault.refuse())
    with subprocess.Popen(
        _command(side, path),
        cwd=ROOT,
        env=_environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdin is not None
        line = writer.stdout.readline()
        proxy.clear()
        if line.strip() == "half":
            writer.stdin.write("healed\n")
            writer.stdin.flush()
        _, errors = writer.communicate(timeout=120)
    assert line.strip() == "half", f"the {side.role} never reached its second half:\n{errors[-3000:]}"
    assert writer.returncode == 0, f"the {side.role} failed:\n{errors[-3000:]}"


def _read(side: Side, path: Path) -> Any:
    done = subprocess.run(
        _command(side, path), cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"the {side.role} failed:\n{done.stderr[-3000:]}"
    return json.loads(path.with_suffix(".out").read_text())


def _configs(clouds: LocalClouds, name: str, proxy: FaultProxy, *, through_proxy: bool) -> dict[str, Any]:
    aws = clouds.aws
    endpoint = {"endpoint_url": f"http://127.0.0.1:{proxy.port}"} if through_proxy else {}
    return {
        "s3": aws.s3_config(name, ensure=False, **endpoint, **FAST),
        "gcs": clouds.gcs.gcs_config(name, ensure=False, **FAST),
        "sqs": aws.sqs_config(name, ensure=False, **endpoint, **FAST),
        "azure": clouds.azure.azure_queue_config(name, ensure=False, **FAST),
    }


def _create(clouds: LocalClouds, name: str) -> None:
    for made in (  # buckets and queues exist before the processes start (they create nothing)
        S3Store(clouds.aws.s3_config(name)),
        GcsStore(clouds.gcs.gcs_config(name)),
        SqsQueue(clouds.aws.sqs_config(name)),
        AzureQueue(clouds.azure.azure_queue_config(name)),
    ):
        made.close()


def test_objects_written_while_s3_refused_read_back_in_another_process_from_every_cloud(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    _create(local_clouds, unique_name)
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy:
        writer = Side(
            "object-writer",
            journal=tmp_path / "writer.journal",
            **_configs(local_clouds, unique_name, proxy, through_proxy=True),
        )
        _write_half_refused(writer, tmp_path / "writer", proxy)
    reader = Side(
        "object-reader",
        journal=tmp_path / "reader.journal",
        **_configs(local_clouds, unique_name, proxy, through_proxy=False),
    )
    read = _read(reader, tmp_path / "reader")
    expected = {
        object_key(n): {
            "sha256": hashlib.sha256(object_body(n)).hexdigest(),
            "metadata": {"n": str(n)},
            "content_type": "application/x-proc",
        }
        for n in range(len(SIZES))
    }
    assert read == {"failover": expected, "s3": expected, "gcs": expected}


def test_messages_sent_while_sqs_refused_open_in_a_consumer_process(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path
) -> None:
    _create(local_clouds, unique_name)
    with FaultProxy.in_front_of(local_clouds.aws.endpoint) as proxy:
        producer = Side(
            "producer", journal=tmp_path / "unused", **_configs(local_clouds, unique_name, proxy, through_proxy=True)
        )
        _write_half_refused(producer, tmp_path / "producer", proxy)
    consumer = Side(
        "consumer", journal=tmp_path / "unused", **_configs(local_clouds, unique_name, proxy, through_proxy=False)
    )
    got = _read(consumer, tmp_path / "consumer")
    expected = {
        f"proc-{n}": {"sha256": hashlib.sha256(message_body(n)).hexdigest(), "attributes": message_attributes(n)}
        for n in range(MESSAGES)
    }
    assert got == expected

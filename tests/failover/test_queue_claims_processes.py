"""Claim-checked messages between a producer process and a consumer process, on the local clouds.

The producer sends five 200 KiB bodies while S3 refuses connections: the bodies go to GCS through
its own `FailoverStorage` (its own journal, which marks S3 pending), and it exits. S3 comes back; a
consumer process, with its own `FailoverStorage` and journal that know nothing of those writes,
receives. Its first read (S3) answers NotFound; the consumer must still get every body.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from failover.adapters.aws import S3Store, SqsQueue
from failover.adapters.azure import AzureQueue
from failover.adapters.gcp import GcsStore
from failover.testing.emulators import LocalClouds
from failover.testing.faults import Fault, FaultProxy
from tests.failover.claim_process import COUNT, Side, body

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
FAST = {"connect_timeout": 0.5, "read_timeout": 2.0}


def _run(side: Side, path: Path) -> dict[str, object]:
    path.write_bytes(pickle.dumps(side))
    done = subprocess.run(
        [sys.executable, "-m", "tests.failover.claim_process", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the {side.role} process failed:\n{done.stderr[-3000:]}"
    out = path.with_suffix(".out")
    return json.loads(out.read_text()) if out.exists() else {}


@pytest.mark.parametrize("mode", ["primary", "mirror"])
def test_bodies_written_while_s3_refused_reach_a_consumer_in_another_process(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, mode: str
) -> None:
    aws, gcs, azure = local_clouds.aws, local_clouds.gcs, local_clouds.azure
    for made in (  # buckets and queues exist before the processes start (they create nothing)
        S3Store(aws.s3_config(unique_name)),
        GcsStore(gcs.gcs_config(unique_name)),
        SqsQueue(aws.sqs_config(unique_name)),
        AzureQueue(azure.azure_queue_config(unique_name)),
    ):
        made.close()
    with FaultProxy.in_front_of(aws.endpoint) as proxy:
        s3 = aws.s3_config(unique_name, endpoint_url=f"http://127.0.0.1:{proxy.port}", ensure=False, **FAST)
        configs = {
            "s3": s3,
            "gcs": gcs.gcs_config(unique_name, ensure=False, **FAST),
            "sqs": aws.sqs_config(unique_name, ensure=False, **FAST),
            "azure": azure.azure_queue_config(unique_name, ensure=False, **FAST),
        }
        proxy.set(Fault.refuse())
        _run(Side("producer", mode, journal=tmp_path / "producer.journal", **configs), tmp_path / "producer")  # type: ignore[arg-type]
        proxy.clear()
        result = _run(Side("consumer", mode, journal=tmp_path / "consumer.journal", **configs), tmp_path / "consumer")  # type: ignore[arg-type]
    expected = {f"claim-{n}": hashlib.sha256(body(n)).hexdigest() for n in range(COUNT)}
    assert result["got"] == expected, f"the consumer got {result['got']} (counters {result['counters']})"

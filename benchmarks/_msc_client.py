"""NVIDIA's multi-storage-client (MSC) as an outage contender: S3 as the source, GCS as its replica.

Installed only by the ``bench`` extra. MSC's replicas are read replicas: a read asks each replica (in
``read_priority`` order) whether it has the object, downloads it from the first that does, and
falls back to the source; writes go to the source only (a replica is filled on a read that missed
it, in the background, or by ``sync_replicas``). The profile below is MSC's documented config
(``profiles``, ``storage_provider`` with ``type`` and ``options``, ``replicas`` with
``replica_profile`` and ``read_priority``): the source is an ``s3`` provider at the fault proxy
(path-style, moto's credentials), the replica a ``gcs`` provider at fake-gcs-server (its
``endpoint_url`` option, ``skip_signature`` for anonymous access). Retries are MSC's defaults.
"""

from __future__ import annotations

from typing import Any

from benchmarks._outage_clients import Client, Target, _gcs_bucket
from failover.testing.emulators import TEST_PROJECT

__all__ = ["MSC", "build_msc_client", "msc_config"]

MSC = "multi-storage-client (GCS replica)"


def msc_config(target: Target) -> dict[str, Any]:
    s3, gcs = target.s3, target.gcs
    assert s3.access_key_id is not None
    assert s3.secret_access_key is not None
    return {
        "profiles": {
            "data": {
                "storage_provider": {
                    "type": "s3",
                    "options": {
                        "base_path": s3.bucket,
                        "endpoint_url": s3.endpoint_url,
                        "region_name": s3.region,
                        "s3": {"addressing_style": "path"},
                    },
                },
                "credentials_provider": {
                    "type": "S3Credentials",
                    "options": {
                        "access_key": s3.access_key_id.get_secret_value(),
                        "secret_key": s3.secret_access_key.get_secret_value(),
                    },
                },
                "replicas": [{"replica_profile": "data-gcs", "read_priority": 1}],
            },
            "data-gcs": {
                "storage_provider": {
                    "type": "gcs",
                    "options": {
                        "base_path": gcs.bucket,
                        "endpoint_url": gcs.endpoint_url,
                        "project_id": TEST_PROJECT,
                        "skip_signature": True,
                    },
                },
            },
        }
    }


def build_msc_client(target: Target) -> Client:
    import boto3
    from botocore.config import Config
    from multistorageclient import StorageClient, StorageClientConfig

    s3 = target.s3
    assert s3.access_key_id is not None
    assert s3.secret_access_key is not None
    setup = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key_id.get_secret_value(),
        aws_secret_access_key=s3.secret_access_key.get_secret_value(),
        config=Config(s3={"addressing_style": "path"}),
    )
    setup.create_bucket(Bucket=s3.bucket)
    setup.close()
    replica = _gcs_bucket(target.gcs)  # creates the replica's bucket
    client = StorageClient(StorageClientConfig.from_dict(msc_config(target), profile="data"))

    def get(key: str) -> bytes:
        return bytes(client.read(key))

    def put(key: str, data: bytes) -> object:
        client.write(key, data)
        return None

    def seed(objects: dict[str, bytes]) -> None:
        for key, data in objects.items():  # the source, and the replica as a sync would have left it
            client.write(key, data)
            replica.blob(key).upload_from_string(data)

    def close() -> None:
        replica.client.close()

    return Client(get, put, seed, close)

"""The `failover` command: ``failover demo`` (local clouds, one object through every adapter)."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Sequence

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from failover.adapters.aws.s3 import S3Store
    from failover.adapters.azure.blob import AzureBlobStore
    from failover.adapters.gcp.gcs import GcsStore
    from failover.interfaces import ObjectStore
    from failover.testing.emulators import LocalClouds

    os.environ.setdefault("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
    console = Console()
    payload = os.urandom(args.size)
    expected = hashlib.sha256(payload).hexdigest()
    with console.status("starting local clouds (moto, fake-gcs-server, Azurite)"):
        started = time.perf_counter()
        clouds = LocalClouds(services=("aws", "gcs", "azure")).__enter__()
        startup = time.perf_counter() - started
    try:
        console.print(f"local clouds ready in {startup:.1f} s")
        stores: list[ObjectStore] = [
            S3Store(clouds.aws.s3_config("failover-demo")),
            GcsStore(clouds.gcs.gcs_config("failover-demo")),
            AzureBlobStore(clouds.azure.azure_blob_config("failover-demo")),
        ]
        table = Table(title=f"one {args.size:,}-byte object through each adapter")
        for column in ("store", "put ms", "get ms", "bytes back", "sha256 ok", "listed"):
            table.add_column(column, no_wrap=True)
        failures = 0
        for store in stores:
            key = "demo/hello.bin"
            t0 = time.perf_counter()
            info = store.put(key, payload, content_type="application/octet-stream", metadata={"owner": "demo"})
            t1 = time.perf_counter()
            body = store.get_bytes(key)
            t2 = time.perf_counter()
            listed = any(getattr(entry, "key", None) == key for entry in store.list("demo/"))
            store.delete(key)
            ok = hashlib.sha256(body).hexdigest() == expected == info.sha256
            failures += not (ok and listed)
            table.add_row(
                store.name,
                f"{(t1 - t0) * 1000:.1f}",
                f"{(t2 - t1) * 1000:.1f}",
                f"{len(body):,}",
                "yes" if ok else "NO",
                "yes" if listed else "NO",
            )
            store.close()
        console.print(table)
        return 1 if failures else 0
    finally:
        clouds.__exit__(None, None, None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="failover", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the demo on local clouds it starts itself")
    demo.add_argument("--size", type=int, default=1024 * 1024, help="bytes of the demo object")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

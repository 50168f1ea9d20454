"""``python scripts/chaos.py --ops 10000 --seed N``: one chaos run on local clouds it starts itself."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the summary with rich; exit status 1 if a write or a message was lost or a read stale."""
    parser = argparse.ArgumentParser(prog="chaos.py", description=__doc__)
    parser.add_argument("--ops", type=int, default=2000, help="workload operations (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the schedule and the workload (default 0)")
    parser.add_argument("--writers", type=int, default=3, help="writer threads (default 3)")
    parser.add_argument("--keys", type=int, default=10, help="keys each writer owns (default 10)")
    parser.add_argument("--shared-keys", type=int, default=0, help="keys every writer writes (default 0)")
    parser.add_argument(
        "--mode", choices=("primary", "mirror"), default="primary", help="the storage's write mode (default primary)"
    )
    parser.add_argument(
        "--one-at-a-time", action="store_true", help="break one provider at a time, never two (default: overlaps)"
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="where the emulators log (default: a temp dir)")
    parser.add_argument("--encrypt", action="store_true", help="through EncryptedStorage and EncryptedQueue")
    parser.add_argument("--verbose", action="store_true", help="show the library's warnings as they happen")
    args = parser.parse_args(argv)
    if args.ops < 1 or args.writers < 1 or args.keys < 1 or args.shared_keys < 0:
        parser.error("--ops, --writers and --keys are at least 1")

    from rich.console import Console

    from failover.testing.chaos._report import render_rich
    from failover.testing.chaos._run import ChaosConfig, run_chaos
    from failover.testing.emulators import LocalClouds

    # Else the GCS client sends hidden background requests of its own (see DESIGN section 11).
    os.environ.setdefault("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
    if not args.verbose:
        logging.getLogger("failover").setLevel(logging.ERROR)
    config = ChaosConfig(
        seed=args.seed,
        ops=args.ops,
        writers=args.writers,
        keys_per_writer=args.keys,
        shared_keys=args.shared_keys,
        encrypt=args.encrypt,
        mode=args.mode,
        overlaps=not args.one_at_a_time,
    )
    console = Console()
    with console.status("starting local clouds (moto, fake-gcs-server, Azurite)"):
        clouds = LocalClouds(("aws", "gcs", "azure"), log_dir=args.log_dir).start_all()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="failover-chaos-") as workdir,
            console.status(
                f"chaos run: {args.ops} operations, seed {args.seed}, {args.mode} mode"
                + (", encrypted" if args.encrypt else "")
            ),
        ):
            summary = run_chaos(clouds, config, workdir=Path(workdir))
    finally:
        clouds.stop_all()
    render_rich(summary)
    return 0 if summary.lost == 0 and summary.stale_reads == 0 and summary.exactly_once else 1

"""The ``failover`` command: ``demo``, ``status``, ``replay``, ``repair`` and ``rekey``.

``failover demo`` starts local clouds and runs a small application through an AWS outage. The others
act on the stores and queues a configuration file names (`failover.config.load_config`: TOML,
completed by ``FAILOVER__*`` variables). Each command imports what it needs (rich, matplotlib, the
cloud SDKs) when it runs, so ``failover --help`` stays quick.

Exit codes: 0 when all went well; 1 when the command ran and found a problem (a failed operation,
an unreachable endpoint, copies left pending or failed); 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from failover.errors import ConfigError

__all__ = ["main"]

QUICK_DURATION = 10.0


def _demo(args: argparse.Namespace) -> int:
    from failover.cli._console import make_console
    from failover.cli.demo import DemoOptions, run_demo

    console = make_console()
    duration = QUICK_DURATION if args.quick else args.duration
    options = DemoOptions(duration=duration, live=not args.no_live and console.is_terminal, timeline=args.timeline)
    return run_demo(options, console)


def _status(args: argparse.Namespace) -> int:
    from failover.cli._console import make_console
    from failover.cli.status import run_status

    return run_status(args.config, make_console(), timeout=args.timeout, journal=args.journal)


def _replay(args: argparse.Namespace) -> int:
    from failover.cli._console import make_console
    from failover.cli.replay import run_replay

    return run_replay(args.config, args.journal, make_console(), timeout=args.timeout, retry_dead=args.retry_dead)


def _repair(args: argparse.Namespace) -> int:
    from failover.cli._console import make_console
    from failover.cli.repair import run_repair

    return run_repair(args.config, args.prefix, make_console(), dry_run=args.dry_run, journal=args.journal)


def _rekey(args: argparse.Namespace) -> int:
    from failover.cli._console import make_console
    from failover.cli.rekey import run_rekey

    return run_rekey(args.config, args.keys, args.prefix, make_console(), dry_run=args.dry_run)


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a number of seconds > 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="failover",
        description="Object storage and message queues that keep working when one cloud goes down.",
        epilog="Exit codes: 0 all well; 1 the command found a problem; 2 a usage or configuration error.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="an application rides through an AWS outage on local clouds it starts")
    demo.add_argument("--duration", type=_seconds, default=60.0, help="seconds the application runs (default 60)")
    demo.add_argument("--quick", action="store_true", help=f"a {QUICK_DURATION:.0f}-second run (for tests)")
    demo.add_argument("--no-live", action="store_true", help="plain log lines instead of the live view")
    demo.add_argument("--timeline", type=Path, default=Path("demo-timeline.png"), help="where the PNG timeline goes")
    demo.set_defaults(run=_demo)

    status = commands.add_parser("status", help="probe every configured store and queue")
    status.add_argument("--config", type=Path, required=True, help="the configuration file (TOML)")
    status.add_argument("--timeout", type=_seconds, default=5.0, help="seconds each probe may take (default 5)")
    status.add_argument(
        "--journal", type=Path, help="the journal whose backlog and dead letters to show (default: the stores' own)"
    )
    status.set_defaults(run=_status)

    replay = commands.add_parser("replay", help="copy what the journal has pending to the stores that miss it")
    replay.add_argument("--config", type=Path, required=True, help="the configuration file (TOML)")
    replay.add_argument(
        "--journal", type=Path, help="the SQLite journal FailoverStorage wrote (default: the stores' default journal)"
    )
    replay.add_argument("--retry-dead", action="store_true", help="make the dead letters pending again first")
    replay.add_argument("--timeout", type=_seconds, default=300.0, help="seconds the replay may take (default 300)")
    replay.set_defaults(run=_replay)

    repair = commands.add_parser("repair", help="compare the stores under a prefix and copy the newest versions")
    repair.add_argument("--config", type=Path, required=True, help="the configuration file (TOML)")
    repair.add_argument("--prefix", default="", help="the keys to compare (default: every key)")
    repair.add_argument("--dry-run", action="store_true", help="report what would be copied; copy nothing")
    repair.add_argument("--journal", type=Path, help="keys it has pending are left to the replicator")
    repair.set_defaults(run=_repair)

    rekey = commands.add_parser("rekey", help="re-encrypt the objects under a prefix under the active key")
    rekey.add_argument("--config", type=Path, required=True, help="the configuration file (TOML)")
    rekey.add_argument("--keys", type=Path, help="a TOML file with the [encryption] table (default: --config)")
    rekey.add_argument("--prefix", default="", help="the keys to re-encrypt (default: every key)")
    rekey.add_argument("--dry-run", action="store_true", help="count what would be re-encrypted; write nothing")
    rekey.set_defaults(run=_rekey)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except ConfigError as exc:
        print(f"failover {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"failover {args.command}: interrupted", file=sys.stderr)
        return 130
    return result

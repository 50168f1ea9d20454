"""``failover rekey``: re-encrypt the objects under a prefix under the keyring's active key.

The stores come from the configuration file, behind one `FailoverStorage` (so each rewritten object
is replicated like any write); the keyring from the ``[encryption]`` table of ``--keys`` (by default
the configuration file itself; either is read by `load_config`, FAILOVER__* variables included).
`failover.crypto.rekey` does the work; this command shows a progress bar over the keys and prints
the report. Exit code 1 if an object could not be rewritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from failover.cli._console import make_progress
from failover.config import load_config
from failover.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["run_rekey"]

SHOWN = 20  # failures listed one by one; the rest are counted


def run_rekey(config_path: Path, keys_path: Path | None, prefix: str, console: Console, *, dry_run: bool) -> int:
    from failover.crypto.rekey import rekey
    from failover.crypto.storage import EncryptedStorage
    from failover.storage import FailoverStorage

    config = load_config(config_path)
    encryption = config.encryption if keys_path is None else load_config(keys_path).encryption
    if encryption is None:
        raise ConfigError(f"{keys_path or config_path} has no [encryption] table", field="encryption")
    store = EncryptedStorage(FailoverStorage.from_config(config), encryption.keyring())
    progress = make_progress(console)
    task = progress.add_task("listing", total=None)

    def advance(done: int, total: int, key: str) -> None:
        progress.update(task, completed=done, total=total, description="re-encrypting")

    try:
        with progress:
            report = rekey(store, prefix, dry_run=dry_run, on_progress=advance)
    finally:
        store.close()
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    count = sum(report.by_key.values()) if dry_run else report.rekeyed
    old = ", ".join(f"{count} under {key_id}" for key_id, count in sorted(report.by_key.items())) or "none"
    console.print(
        f"rekey of prefix {prefix!r} to key {report.active!r}: scanned {report.scanned}, {verb} {count}"
        f" (old: {old}), {report.current} already current, {report.changed} changed meanwhile,"
        f" {len(report.plaintext)} not encrypted, {len(report.failed)} failed",
        markup=False,
        highlight=False,
    )
    for failure in report.failed[:SHOWN]:
        console.print(f"failed: {failure}", markup=False, highlight=False)
    if len(report.failed) > SHOWN:
        console.print(f"... and {len(report.failed) - SHOWN} more", highlight=False)
    return 1 if report.failed else 0

"""Where failover keeps the state that must outlive a process: the default journal.

The state directory is ``$FAILOVER_STATE_DIR`` when set, else the platform's per-user state
directory: ``$XDG_STATE_HOME/failover`` (``~/.local/state/failover`` when that is unset) on Linux and
other POSIX systems, ``%LOCALAPPDATA%\\failover\\state`` on Windows. It is created (mode 0700) on
first use.

The default journal of a set of stores lives there under a name derived from the sorted store names,
so that the next process built over the same stores (the same configuration) opens the same
journal and replays what the last one left pending, and two configurations never share one.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from failover.errors import ConfigError

__all__ = [
    "STATE_DIR_ENV",
    "default_journal_path",
    "default_state_file",
    "journal_file_name",
    "state_dir",
    "state_file_name",
]

STATE_DIR_ENV = "FAILOVER_STATE_DIR"


def state_dir(env: Mapping[str, str] | None = None, *, configured: str | os.PathLike[str] | None = None) -> Path:
    """The state directory (not created here): ``configured`` (a configuration's ``state_dir``),
    else ``$FAILOVER_STATE_DIR``, else the user state dir."""
    if configured is not None:
        return Path(configured).expanduser()
    env = os.environ if env is None else env
    if env.get(STATE_DIR_ENV):
        return Path(env[STATE_DIR_ENV]).expanduser()
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "failover" / "state"
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "failover"
    return Path.home() / ".local" / "state" / "failover"


def default_journal_path(store_names: Iterable[str], *, directory: str | os.PathLike[str] | None = None) -> Path:
    """The journal file of these stores under ``directory`` (default `state_dir()`), which is created.

    The name hashes the sorted store names: the order of preference may change between two runs
    without losing the backlog, and another set of stores gets a journal of its own.
    """
    return default_state_file("journal", store_names, directory=directory)


def default_state_file(kind: str, names: Iterable[str], *, directory: str | os.PathLike[str] | None = None) -> Path:
    """``<directory>/<kind>-<hash of the sorted names>.sqlite``; the directory is created (mode 0700)."""
    name = state_file_name(kind, names)
    base = state_dir(configured=directory)
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the state directory {base} ({exc.strerror}); set {STATE_DIR_ENV} or pass a path",
            field=kind,
        ) from exc
    return base / name


def journal_file_name(store_names: Iterable[str]) -> str:
    """The default journal's file name for these stores (order does not matter)."""
    return state_file_name("journal", store_names)


def state_file_name(kind: str, names: Iterable[str]) -> str:
    """``<kind>-<hash of the sorted names>.sqlite``."""
    ordered = sorted(set(names))
    if not ordered:
        raise ConfigError(f"a default {kind} file needs at least one name", field=kind)
    digest = hashlib.sha256("\n".join(ordered).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{kind}-{digest}.sqlite"

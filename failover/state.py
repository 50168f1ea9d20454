"""Where the library keeps state on disk by default: journals and dedup windows that outlive a restart.

The state directory is, in order: the configuration's ``state_dir``, ``$FAILOVER_STATE_DIR``,
``$XDG_STATE_HOME/failover``, ``~/.local/state/failover``. A default file in it is named after what
it serves (the stores of a `FailoverStorage`, the queues of a `FailoverQueue`), so that the same
configuration finds the same file again after a restart, and two configurations never share one.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["STATE_DIR_VARIABLE", "default_state_file", "state_dir"]

STATE_DIR_VARIABLE = "FAILOVER_STATE_DIR"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def state_dir(configured: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    """The state directory (not created here)."""
    environ = os.environ if env is None else env
    if configured is not None:
        return Path(configured).expanduser()
    if environ.get(STATE_DIR_VARIABLE):
        return Path(environ[STATE_DIR_VARIABLE]).expanduser()
    if environ.get("XDG_STATE_HOME"):
        return Path(environ["XDG_STATE_HOME"]) / "failover"
    return Path.home() / ".local" / "state" / "failover"


def default_state_file(
    kind: str,
    names: Iterable[str],
    *,
    configured: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """``<state dir>/<kind>-<readable names>-<hash>.sqlite``: stable for the same ``names`` (in any order)."""
    ordered = sorted(names)
    digest = hashlib.sha256("\0".join(ordered).encode("utf-8")).hexdigest()[:16]
    readable = _UNSAFE.sub("_", "+".join(ordered))[:60]
    return state_dir(configured, env=env) / f"{kind}-{readable}-{digest}.sqlite"

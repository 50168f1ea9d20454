"""Lazy SDK imports: the core imports no cloud SDK; an adapter imports its own when first built."""

from __future__ import annotations

import importlib
from types import ModuleType

from failover.errors import ConfigError

__all__ = ["require"]


def require(module: str, *, extra: str, user: str) -> ModuleType:
    """Import ``module``, or raise `ConfigError` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"install failover[{extra}] to use {user} (cannot import {module}: {exc})", field="kind"
        ) from None

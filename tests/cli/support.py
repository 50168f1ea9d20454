"""What the CLI tests share: configuration files written from the emulators' configuration models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, SecretStr

__all__ = ["write_config"]


def _value(value: object) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    raise TypeError(f"no TOML for {value!r}")


def _table(section: str, model: BaseModel) -> list[str]:
    lines = [f"[{section}]"]
    for field, value in model:
        if value is not None:
            lines.append(f"{field} = {_value(value)}")
    return [*lines, ""]


def write_config(
    path: Path, *, storage: Sequence[BaseModel] = (), queues: Sequence[BaseModel] = (), tables: str = ""
) -> Path:
    """A TOML file that `failover.config.load_config` reads back as these stores and queues (secrets included).

    ``tables`` is TOML text put first (``[storage]``, ``[engine]``, ...).
    """
    lines: list[str] = [tables]
    for number, model in enumerate(storage):
        lines += _table(f"stores.store_{number}", model)
    for number, model in enumerate(queues):
        lines += _table(f"queues.queue_{number}", model)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path

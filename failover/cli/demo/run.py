"""The demo's script: start the world, run the application, cut AWS off, restore it, check, report."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from failover.cli.demo.metrics import Recorder
from failover.cli.demo.summary import Messages, Summary, verify_objects
from failover.cli.demo.timeline import write_timeline
from failover.cli.demo.view import LiveView, PlainView, View
from failover.cli.demo.workload import VISIBILITY, Acked, Consumer, Producer, Writer
from failover.cli.demo.world import AWS_HOST, DemoWorld
from failover.health import HealthState
from failover.interfaces import ObjectStore

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["DemoOptions", "run_demo"]

TICK = 0.1  # seconds between the main loop's looks at the clock and the journal
DRAIN_TIMEOUT = 30.0  # seconds the final drain of the journal may take
JOIN_TIMEOUT = 15.0  # seconds a stopping thread may take to finish its operation in hand


@dataclass(frozen=True)
class DemoOptions:
    duration: float = 60.0  # seconds the application runs; AWS is cut off from 25% to 50% of it
    live: bool = True  # the rich live view (else plain log lines)
    timeline: Path = Path("demo-timeline.png")
    writers: int = 3
    write_rate: float = 8.0  # operations a second per writer (puts and reads alternate)
    message_rate: float = 8.0  # messages a second the producer sends

    @property
    def cut_at(self) -> float:
        return self.duration * 0.25

    @property
    def restore_at(self) -> float:
        return self.duration * 0.5

    @property
    def message_grace(self) -> float:
        """Seconds the consumer may take, once the producer stopped, to receive what is left: at least
        twice the visibility, which a message taken by a receive cut off by the outage waits out."""
        return max(2 * VISIBILITY, self.duration / 4)


def run_demo(options: DemoOptions, console: Console) -> int:
    """Run the demo; 0 if nothing failed, nothing was lost, and every object is on every store."""
    recorder = Recorder()
    what = "starting local clouds (moto, fake-gcs-server, Azurite)"
    with tempfile.TemporaryDirectory(prefix="failover-demo-") as workdir, contextlib.ExitStack() as stack:
        started = time.monotonic()
        if not options.live:
            console.print(what, highlight=False)
        spinner: contextlib.AbstractContextManager[object] = (
            console.status(what) if options.live else contextlib.nullcontext()
        )
        with spinner:
            world = stack.enter_context(DemoWorld(Path(workdir), recorder))
        console.print(f"local clouds ready in {time.monotonic() - started:.1f} s", highlight=False)
        stack.enter_context(_library_logs_to(recorder))
        script = _Script(options, world, recorder, _view(options, world, recorder, console))
        summary = script.run()
    timeline_error = None
    try:
        summary.timeline = write_timeline(
            options.timeline.resolve(), recorder, cut_at=summary.cut_at, restore_at=summary.restore_at, end=script.end
        )
    except OSError as exc:
        timeline_error = f"the timeline could not be written to {options.timeline}: {exc}"
    console.print()
    console.print("Summary", style="bold")
    for line in summary.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if timeline_error is not None:
        console.print(timeline_error, markup=False, highlight=False, style="bold red")
        return 1
    return 0 if summary.ok else 1


class _Script:
    """The run, on the main thread: the application's threads do the work, this keeps the time."""

    def __init__(self, options: DemoOptions, world: DemoWorld, recorder: Recorder, view: View) -> None:
        self.options = options
        self.world = world
        self.recorder = recorder
        self.view = view
        self.writers = [
            Writer(index, world.storage, recorder, options.write_rate) for index in range(1, options.writers + 1)
        ]
        self.producer = Producer(world.queue, recorder, options.message_rate)
        self.consumer = Consumer(world.queue, recorder)
        self.cut = self.restored = self.drained = False
        self.cut_at = options.cut_at  # when the cut and the restore really happened (a tick late at most)
        self.restore_at = options.restore_at
        self.end = 0.0

    def run(self) -> Summary:
        recorder, options, view = self.recorder, self.options, self.view
        threads: list[Writer | Producer | Consumer] = [*self.writers, self.producer, self.consumer]
        recorder.begin()
        recorder.event(f"application started: {len(self.writers)} writers, a producer and a consumer")
        for thread in threads:
            thread.start()
        view.phase = "all providers up"
        view.start()
        try:
            while recorder.now() < options.duration:
                self._step()
            view.phase = "finishing: last messages"
            pacers: list[Writer | Producer] = [*self.writers, self.producer]
            for pacer in pacers:
                pacer.stop()
            for pacer in pacers:
                pacer.join(JOIN_TIMEOUT)
            ran = recorder.now()
            recorder.event("application stopped; the consumer takes the last messages")
            sent = self.producer.sent_ids()
            until = recorder.now() + options.message_grace
            while self._messages_in_flight(sent) and recorder.now() < until:
                self._step()
            self.consumer.stop()
            self.consumer.join(JOIN_TIMEOUT)
            self.consumer.finish()
            view.phase = "finishing: drain, verify every copy"
            recorder.event("draining the journal, then reading every object back from every store")
            view.tick()
            self.world.storage.drain(timeout=DRAIN_TIMEOUT)
            self._sample()
            self.end = recorder.now()
            verification = verify_objects(self._stores(), self._acked())
            recorder.event(
                f"verified {verification.verified} of {verification.copies} copies "
                f"({verification.objects} objects on {len(verification.stores)} stores) "
                f"in {recorder.now() - self.end:.1f} s",
                "green" if verification.complete else "bold red",
            )
        finally:  # also on an error or Ctrl-C: no thread may call a store after the world closes it
            for thread in threads:
                thread.stop()
            for thread in threads:
                thread.join(JOIN_TIMEOUT)
            view.stop()
        return Summary(
            recorder,
            ran=ran,
            cut_at=self.cut_at,
            restore_at=self.restore_at,
            aws=self.world.endpoints.aws,
            drain_store=self.world.endpoints.s3.name,
            messages=self._messages(sent),
            verification=verification,
        )

    def _step(self) -> None:
        now = self.recorder.now()
        if not self.cut and now >= self.options.cut_at:
            self.cut = True
            self.cut_at = now
            self.recorder.event(f"AWS cut off: {AWS_HOST} no longer resolves", "bold red")  # logged first:
            self.world.cut_aws()  # the circuits open during the cut
            self.view.phase = "AWS cut off (DNS failure)"
        if self.cut and not self.restored and now >= self.options.restore_at:
            self.restored = True
            self.restore_at = now
            self.world.restore_aws()
            pending = self.recorder.latest_backlog().get(self.world.endpoints.s3.name, 0)
            self.recorder.event(f"AWS restored: {AWS_HOST} resolves again; {pending} copies to replay", "bold green")
            self.view.phase = "AWS restored: replaying"
        backlog = self._sample()
        if self.restored and not self.drained and not backlog.get(self.world.endpoints.s3.name):
            self.drained = True
            self.recorder.event(f"S3 caught up: journal backlog 0, {now - self.restore_at:.1f} s after the restore")
            if self.recorder.now() < self.options.duration:
                self.view.phase = "all up, S3 caught up"
        self.view.tick()
        time.sleep(TICK)

    def _messages_in_flight(self, sent: set[str]) -> bool:
        return not sent <= self.consumer.received_ids().keys() or self.consumer.pending_acks > 0

    def _sample(self) -> dict[str, int]:
        backlog = self.world.storage.journal.backlog()
        self.recorder.sample_backlog(backlog)
        return backlog

    def _stores(self) -> dict[str, ObjectStore]:
        """Each store's own adapter, by label: the check reads every copy, not the nearest one."""
        labels = self.recorder.endpoints
        return {labels[store.name].label: store.inner for store in self.world.endpoints.stores}

    def _acked(self) -> dict[str, Acked]:
        return {key: acked for writer in self.writers for key, acked in writer.acked.items()}

    def _messages(self, sent: set[str]) -> Messages:
        received = self.consumer.received_ids()
        return Messages(
            sent=len(sent),
            received=len(received),
            duplicates_dropped=self.world.queue.counters().duplicates_dropped,
            delivered_twice=sum(1 for count in received.values() if count > 1),
            lost=len(sent - received.keys()),
            acks_retried=self.consumer.retried,
        )


def _view(options: DemoOptions, world: DemoWorld, recorder: Recorder, console: Console) -> View:
    def state_of(name: str) -> HealthState:
        engine = world.storage.engine if name in world.storage.stores else world.queue.engine
        return engine.health[name].state

    if options.live:
        return LiveView(console, recorder, state_of, options.duration)
    return PlainView(console, recorder, state_of, options.duration, every=max(1.0, options.duration / 12))


class _ToRecorder(logging.Handler):
    """The library's warnings as lines of the demo's log (health changes come as events already)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(logging.WARNING)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("failover.health"):
            self.recorder.event(f"{record.name}: {record.getMessage()}", "yellow")


@contextlib.contextmanager
def _library_logs_to(recorder: Recorder) -> Iterator[None]:
    logger = logging.getLogger("failover")
    handler = _ToRecorder(recorder)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # else Python's last-resort handler writes across the live view
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate

"""The nemesis: applies the fault schedule as the workload reaches each step, and records it."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence

from failover.testing.chaos._history import History, Kind, Outcome
from failover.testing.chaos._rig import Rig
from failover.testing.chaos._schedule import Step
from failover.testing.chaos._workload import Anomalies, StorageHandle

__all__ = ["Nemesis"]


class Nemesis:
    """Applies the schedule's steps as the workload reaches them; records each in the history."""

    def __init__(
        self, steps: Sequence[Step], rig: Rig, storage: StorageHandle, history: History, anomalies: Anomalies
    ) -> None:
        self._steps = steps
        self._rig = rig
        self._storage = storage
        self._history = history
        self._anomalies = anomalies
        self._stopping = threading.Event()
        self.applied: list[str] = []

    def run(self) -> None:
        for step in self._steps:
            if not self._history.wait_for(step.at, self._stopping.is_set):
                return
            slot = self._history.start()
            try:
                note = self._apply(step)
            except Exception:  # the run goes on without this step; the summary says why
                self._anomalies.unexpected.append(f"nemesis {step}: {traceback.format_exc()}")
                self._history.finish(slot, "nemesis", Kind.NEMESIS, str(step), outcome=Outcome.FAILED)
                continue
            self.applied.append(note)
            self._history.finish(slot, "nemesis", Kind.NEMESIS, note, outcome=Outcome.OK)

    def _apply(self, step: Step) -> str:
        if step.action == "break":
            assert step.fault is not None
            self._rig.break_provider(step.provider, step.fault)
        elif step.action == "heal":
            self._rig.heal(step.provider)
        else:
            return f"{step} ({self._storage.restart()} items pending)"
        return str(step)

    def stop(self) -> None:
        self._stopping.set()

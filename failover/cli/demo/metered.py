"""Adapters that tell the demo's `Recorder` of every call they serve or fail.

They are the test kit's `FaultyStore` and `FaultyQueue` with no fault scripted: wrappers that
implement the full `ObjectStore` and `MessageQueue` Protocols around one ``_run`` hook, so the
FailoverStorage and FailoverQueue above them cannot tell them from the adapters they wrap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from failover.cli.demo.metrics import Recorder, current_role
from failover.errors import Disposition, FailoverError
from failover.interfaces import MessageQueue, ObjectStore
from failover.policy import classify
from failover.queue import SupportsProbe, probe_queue
from failover.testing.faulty import FaultyStore
from failover.testing.faulty_queue import FaultyQueue

__all__ = ["MeteredQueue", "MeteredStore"]

T = TypeVar("T")


def _metered(recorder: Recorder, endpoint: str, call: Callable[[], T]) -> T:
    role = current_role()
    try:
        value = call()
    except FailoverError as exc:
        # A FATAL answer (NotFound: a probe's canary, a key not written yet) is the provider speaking.
        recorder.call(endpoint, role, ok=classify(exc) is Disposition.FATAL)
        raise
    recorder.call(endpoint, role, ok=True)
    return value


class MeteredStore(FaultyStore):
    """An `ObjectStore` that reports each call's outcome, by caller role, to ``recorder``."""

    def __init__(self, inner: ObjectStore, recorder: Recorder) -> None:
        super().__init__(inner)
        self.recorder = recorder

    def _run(self, operation: str, call: Callable[[], T]) -> T:
        return _metered(self.recorder, self.name, lambda: super(MeteredStore, self)._run(operation, call))


class MeteredQueue(FaultyQueue):
    """A `MessageQueue` that reports each call's outcome, by caller role, to ``recorder``.

    It keeps the wrapped queue's cheap `probe`, which the failover engine prefers to a receive.
    """

    def __init__(self, inner: MessageQueue, recorder: Recorder) -> None:
        super().__init__(inner)
        self.recorder = recorder

    def _run(self, operation: str, call: Callable[[], T]) -> T:
        return _metered(self.recorder, self.name, lambda: super(MeteredQueue, self)._run(operation, call))

    def probe(self, *, timeout: float | None = None) -> object:
        inner = self.inner
        if isinstance(inner, SupportsProbe):
            return _metered(self.recorder, self.name, lambda: inner.probe(timeout=timeout))
        return _metered(self.recorder, self.name, lambda: probe_queue(inner, timeout if timeout is not None else 2.0))

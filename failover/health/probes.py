"""Active probes: a DOWN endpoint gets no traffic, so a `Prober` asks it, with backoff, whether it is back.

A probe is a cheap injected call (a HEAD of a canary key, a queue's attributes) that receives its
timeout. When the endpoint goes DOWN the first probe waits ``backoff.delay(n)`` from the moment the
circuit opened (the cool-off), where ``n`` is the number of times it opened since it was last HEALTHY
minus one: an endpoint that failed its trial calls waits longer. Each failed probe doubles the wait
(up to ``cap``, less up to ``jitter`` of it at random, so that a fleet does not probe in step). A
probe that answers, even with NotFound or a refusal of that one request by policy (`is_refusal`: a
least-privilege role may not read the canary, and S3 answers a HEAD of a missing key with 403 to a
caller without ``s3:ListBucket``), moves the endpoint to PROBING (half-open); its trial calls then
decide (see `HealthTracker`). Credentials rejected, or the bucket missing, are failed probes.

`Prober.tick` does one step and says when the next one is due: tests drive it on a manual clock. In
production `start` runs it on a daemon thread, woken when the endpoint goes DOWN, until `stop`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from failover.errors import ConfigError, NotFound, PreconditionFailed
from failover.health.store import HealthState
from failover.health.tracker import HealthTracker
from failover.policy.classify import is_refusal
from failover.policy.jitter import jitter

__all__ = ["Probe", "ProbeBackoff", "Prober"]

logger = logging.getLogger("failover.health")

# Errors that are the provider's answer: a probe that meets one found the endpoint reachable.
_ANSWERS = (NotFound, PreconditionFailed)


def _is_answer(error: BaseException) -> bool:
    """Whether a probe's error is the provider's answer, which proves the endpoint reachable."""
    return isinstance(error, _ANSWERS) or is_refusal(error)


Probe = Callable[[float], object]
"""A cheap call to the endpoint; receives its timeout in seconds; raises if the endpoint fails."""


@dataclass(frozen=True, slots=True)
class ProbeBackoff:
    """Seconds before probe ``n`` (from 0): ``min(cap, base * 2**n)``, less up to ``jitter`` of it."""

    base: float = 0.5
    cap: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap or not 0.0 <= self.jitter < 1.0:
            raise ConfigError("probe backoff needs 0 < base <= cap and 0 <= jitter < 1", field="probe_backoff")

    def delay(self, attempt: int, random: float = 0.0) -> float:
        """The wait before probe ``attempt``; ``random`` in [0, 1) picks the jitter."""
        full = self.cap if attempt >= 64 else min(self.cap, self.base * 2.0**attempt)
        return full * (1.0 - self.jitter * random)


class Prober:
    """Probes one endpoint while it is DOWN."""

    def __init__(
        self,
        tracker: HealthTracker,
        probe: Probe,
        *,
        backoff: ProbeBackoff | None = None,
        timeout: float = 2.0,
        random: Callable[[], float] = jitter,
        idle_interval: float = 1.0,
    ) -> None:
        self.tracker = tracker
        self.probe = probe
        self.backoff = backoff if backoff is not None else ProbeBackoff()
        self.timeout = timeout
        self.idle_interval = idle_interval  # a running thread's look at a store another process may change
        self._random = random
        self._clock = tracker.clock
        self._episode: tuple[float, int] | None = None  # (since, opened) of the DOWN spell being probed
        self._failures = 0
        self._due = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def next_probe_at(self) -> float | None:
        """The clock reading at which the next probe is due, None when the endpoint is not DOWN."""
        return self._due if self._episode is not None else None

    def tick(self) -> float | None:
        """Probe if the endpoint is DOWN and a probe is due; return seconds to the next, or None if not DOWN."""
        record = self.tracker.record
        if record.state is not HealthState.DOWN:
            self._episode = None
            return None
        now = self._clock.monotonic()
        if self._episode != (record.since, record.opened):
            self._episode = (record.since, record.opened)
            self._failures = max(0, record.opened - 1)
            self._due = record.since + self.backoff.delay(self._failures, self._random())
        if now < self._due:
            return self._due - now
        if self._stop.is_set():
            return None  # stopped: the endpoint may be closed already
        try:
            self.probe(self.timeout)
        except Exception as exc:
            if not _is_answer(exc):
                self.tracker.probe_failed(exc)
                self._failures += 1
                after = self._clock.monotonic()
                self._due = after + self.backoff.delay(self._failures, self._random())
                return self._due - after
        self.tracker.probe_succeeded(self._clock.monotonic() - now)
        self._episode = None
        return None

    # -- the background thread -------------------------------------------------------------------

    def start(self) -> None:
        """Probe on a daemon thread, woken when the endpoint goes DOWN; idempotent."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.tracker.events.on_state_change.append(self._on_state_change)
        self._thread = threading.Thread(target=self._run, name=f"failover-prober-{self.tracker.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread (it finishes a probe in progress, and starts none) and wait up to ``timeout``
        for it; whether it has ended. ``stop(0)`` only tells it to stop: call again to wait."""
        self._stop.set()
        self._wake.set()
        if self._on_state_change in self.tracker.events.on_state_change:
            self.tracker.events.on_state_change.remove(self._on_state_change)
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
            self._thread = None
        return True

    def _on_state_change(self, endpoint: str, old: HealthState, new: HealthState, reason: str) -> None:
        if endpoint == self.tracker.name and new is HealthState.DOWN:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                delay = self.tick()
            except Exception:
                logger.exception("prober of %s failed", self.tracker.name)
                delay = self.idle_interval
            self._wake.wait(self.idle_interval if delay is None else min(delay, self.idle_interval))

"""Health events: state changes and failovers, told to listeners and logged once each.

Listeners are plain callables in two lists, empty by default. A listener that raises is logged and
skipped: a metrics hook's bug must not fail a call. Each state change is logged once, with its
reason, on the ``failover.health`` logger (WARNING when an endpoint goes DOWN, INFO otherwise);
failovers are logged at DEBUG, since a caller may meet one per call during an outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from failover.health.store import HealthState

__all__ = ["FailoverListener", "HealthEvents", "StateChangeListener", "logger"]

logger = logging.getLogger("failover.health")

StateChangeListener = Callable[[str, HealthState, HealthState, str], None]
"""``(endpoint, old, new, reason)``."""

FailoverListener = Callable[[str, str | None, str, BaseException], None]
"""``(from_endpoint, to_endpoint or None if none is left, operation, error)``."""


class HealthEvents:
    """The listeners of one set of endpoints (one per `HealthRegistry`).

    ``generation`` changes with every state change, so that a router can cache its order until then.
    """

    def __init__(self) -> None:
        self.on_state_change: list[StateChangeListener] = []
        self.on_failover: list[FailoverListener] = []
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def state_changed(self, endpoint: str, old: HealthState, new: HealthState, reason: str) -> None:
        with self._lock:
            self._generation += 1
        level = logging.WARNING if new is HealthState.DOWN else logging.INFO
        logger.log(level, "%s: %s -> %s (%s)", endpoint, old.value, new.value, reason)
        for listener in tuple(self.on_state_change):
            try:
                listener(endpoint, old, new, reason)
            except Exception:
                logger.exception("state-change listener %r failed", listener)

    def failed_over(self, from_endpoint: str, to_endpoint: str | None, operation: str, error: BaseException) -> None:
        logger.debug("%s failed over from %s to %s: %s", operation, from_endpoint, to_endpoint, error)
        for listener in tuple(self.on_failover):
            try:
                listener(from_endpoint, to_endpoint, operation, error)
            except Exception:
                logger.exception("failover listener %r failed", listener)

"""Bucket and queue lifecycle calls still owed to a provider that was down when they were made.

A create or delete that a provider did not answer is kept per (name, position in the mapping) and
tried again every second by a thread of its own until it succeeds; the latest call for a provider
wins (a delete after a create replaces it). A provider whose bucket or queue is missing stays DOWN
in the health tracker (a missing bucket is that store's fault), so waiting for it to be HEALTHY
would wait forever: the call itself is the probe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Action", "WhenBack"]

EVERY = 1.0  # seconds between tries
Action = Callable[[Any], bool]
"""Create or delete on one provider, from its endpoint configuration; True once done."""


class WhenBack:
    def __init__(self, name: str) -> None:
        self._name = name
        self._waiting: dict[tuple[str, int], tuple[Any, Action]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def add(self, name: str, missed: dict[int, Any], action: Action) -> None:
        """Apply ``action`` to the endpoint configurations ``missed`` (by position) once each answers."""
        with self._lock:
            self._waiting.update({(name, index): (config, action) for index, config in missed.items()})
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def pending(self) -> list[tuple[str, int]]:
        with self._lock:
            return sorted(self._waiting)

    def _run(self) -> None:
        while not self._closed.wait(EVERY):
            with self._lock:
                todo = list(self._waiting.items())
                if not todo:
                    self._thread = None
                    return
            for key, (config, action) in todo:
                if action(config):
                    with self._lock:
                        if self._waiting.get(key, (None, None))[1] is action:
                            del self._waiting[key]

    def close(self) -> None:
        self._closed.set()

"""A wall clock the tests move by hand (seconds since the epoch), for stores that outlive a process."""

from __future__ import annotations

__all__ = ["ManualWall"]


class ManualWall:
    """Callable like `time.time`; starts at ``seconds`` and moves only when a test sets it."""

    def __init__(self, seconds: float = 1000.0) -> None:
        self.seconds = seconds

    def __call__(self) -> float:
        return self.seconds

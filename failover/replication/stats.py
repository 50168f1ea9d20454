"""What replication did (`ReplicationStats`) and when it tries a failed item again (`Backoff`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from failover.policy.jitter import jitter
from failover.replication.copy import CopyOutcome

__all__ = ["Backoff", "ReplicationStats"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """When to try a failed item again: exponential in its attempts, capped, with jitter.

    Half the delay is fixed and half random ("equal jitter"), so a retry never comes back at once
    yet items that failed together spread out.
    """

    base: float = 1.0
    cap: float = 60.0
    jitter: Callable[[], float] = jitter  # uniform in [0, 1)

    def delay(self, attempts: int) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(attempts, 32))
        return ceiling / 2 + self.jitter() * ceiling / 2


@dataclass(slots=True)
class ReplicationStats:
    """What one or more passes did."""

    copied: int = 0
    deleted: int = 0
    up_to_date: int = 0  # the target already had this version or a newer one
    superseded: int = 0  # every source had moved on to a newer version
    rescheduled: int = 0  # failed this time; back in the journal with a later attempt time
    dead_lettered: int = 0  # failed too often: given up on until `failover replay --retry-dead`
    settled: int = 0  # intents left by writers, committed or abandoned (see `settle_intents`)
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.copied + self.deleted + self.up_to_date + self.superseded

    @property
    def attempted(self) -> int:
        return self.done + self.rescheduled + self.dead_lettered

    def add(self, other: ReplicationStats) -> None:
        self.copied += other.copied
        self.deleted += other.deleted
        self.up_to_date += other.up_to_date
        self.superseded += other.superseded
        self.rescheduled += other.rescheduled
        self.dead_lettered += other.dead_lettered
        self.settled += other.settled
        self.errors.extend(other.errors)

    def count(self, outcome: CopyOutcome) -> None:
        if outcome is CopyOutcome.COPIED:
            self.copied += 1
        elif outcome is CopyOutcome.DELETED:
            self.deleted += 1
        elif outcome is CopyOutcome.UP_TO_DATE:
            self.up_to_date += 1
        elif outcome is CopyOutcome.SUPERSEDED:
            self.superseded += 1

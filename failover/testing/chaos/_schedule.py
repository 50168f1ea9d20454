"""The seeded fault schedule: when each provider breaks, how, when it heals, when the replicator dies.

Positions are counts of workload operations begun, never seconds, so one seed gives the same
schedule on a fast machine and a loaded one. The schedule starts and ends calm (a warm-up, then a
tail in which everything is healed and traffic returns); in between, one provider at a time is
broken, in a seeded order that goes through every (provider, fault) pair before repeating one, and
about one outage in four begins in the last quarter of the previous one, so that two providers are
down at once for a while. The replicator is killed once, in the middle of an outage, when the
journal has a backlog to recover."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["FAULTS", "PROVIDERS", "FaultKind", "Step", "plan"]


class FaultKind(enum.StrEnum):
    REFUSED = "refused"  # the port is closed: ECONNREFUSED
    DNS = "dns"  # the endpoint's host name stops resolving
    HANG = "hang"  # connects succeed, nothing answers; what was held is delivered at the heal
    BLACKHOLE = "blackhole"  # connects succeed, requests are swallowed for good
    STORM = "503"  # every request answered 503 by the proxy


PROVIDERS: Final = ("aws", "gcp", "azure")
FAULTS: Final[dict[str, tuple[FaultKind, ...]]] = {
    # Only AWS is reached through a host alias that DnsFaults can break (as in October 2025).
    "aws": (FaultKind.REFUSED, FaultKind.DNS, FaultKind.HANG, FaultKind.BLACKHOLE, FaultKind.STORM),
    "gcp": (FaultKind.REFUSED, FaultKind.HANG, FaultKind.STORM),
    "azure": (FaultKind.REFUSED, FaultKind.BLACKHOLE, FaultKind.STORM),
}

Action = Literal["break", "heal", "restart"]


@dataclass(frozen=True, slots=True)
class Step:
    """At operation ``at``: break ``provider`` with ``fault``, heal it, or restart the replicator."""

    at: int
    action: Action
    provider: str = ""
    fault: FaultKind | None = None

    def __str__(self) -> str:
        if self.action == "break":
            return f"@{self.at} break {self.provider} ({self.fault})"
        if self.action == "heal":
            return f"@{self.at} heal {self.provider}"
        return f"@{self.at} kill the replicator, recover from the journal"


def plan(seed: int, ops: int, *, overlaps: bool = True) -> list[Step]:
    """The steps for a run of ``ops`` operations, sorted by position (heals before breaks at a tie).

    ``overlaps=False``: one provider broken at a time, never two.
    """
    rng = random.Random(f"failover-chaos-schedule-{seed}")
    pairs = [(provider, fault) for provider in PROVIDERS for fault in FAULTS[provider]]
    rng.shuffle(pairs)
    shortest, longest = max(ops * 4 // 100, 8), max(ops * 8 // 100, 12)
    start, end = max(ops * 5 // 100, 5), ops - max(ops * 12 // 100, 10)
    steps: list[Step] = []
    outages: list[tuple[int, int]] = []
    at, previous, previous_heal = start, "", 0
    while at < end - shortest // 2:
        # The next pair whose provider is not the one still broken (an overlap needs two providers);
        # it goes to the back of the line.
        index = next(i for i, (provider, _) in enumerate(pairs) if provider != previous or previous_heal <= at)
        provider, fault = pairs.pop(index)
        pairs.append((provider, fault))
        heal = min(at + rng.randint(shortest, longest), end)
        steps += [Step(at, "break", provider, fault), Step(heal, "heal", provider)]
        outages.append((at, heal))
        overlap = rng.random() < 0.25 and heal - at >= 4 and previous_heal <= at  # never two overlaps in a row
        overlap = overlap and overlaps  # drawn either way: the rest of the schedule stays the seed's
        # An overlap covers the last quarter of this outage: two providers down for a while, not for long.
        following = at + (heal - at) * 3 // 4 if overlap else heal + rng.randint(ops // 100 + 1, ops * 3 // 100 + 2)
        # Never three at once: the next outage starts after the one before this healed.
        at, previous, previous_heal = max(following, previous_heal), provider, heal
    if outages:
        first, last = outages[min(1, len(outages) - 1)]
        steps.append(Step(first + (last - first) // 2, "restart"))
    order = {"heal": 0, "restart": 1, "break": 2}
    return sorted(steps, key=lambda step: (step.at, order[step.action]))

"""The end of the demo: every acknowledged object checked on every store, and the summary it prints.

The check reads each object from each store's own adapter (not through FailoverStorage, which would
answer from any one store) and compares its bytes' sha256 and its version stamp with what the put
acknowledged. The summary's numbers come from the `Recorder`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

from failover.cli.demo.metrics import Recorder
from failover.cli.demo.workload import Acked
from failover.errors import NotFound
from failover.health import HealthState
from failover.interfaces import ObjectStore

__all__ = ["Messages", "Summary", "Verification", "verify_objects"]


@dataclass
class Verification:
    """Every acknowledged object, on every store, with the acknowledged version and content."""

    objects: int
    stores: list[str]
    verified: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def copies(self) -> int:
        return self.objects * len(self.stores)

    @property
    def complete(self) -> bool:
        return self.verified == self.copies


def _check(store: ObjectStore, key: str, acked: Acked) -> str | None:
    """None if ``store`` holds ``key`` as acknowledged; else what is wrong."""
    try:
        with store.get(key) as reader:
            data = reader.read()
            version = reader.info.version
    except NotFound:
        return f"{key} is missing on {store.name}"
    except Exception as exc:
        return f"{key} could not be read from {store.name}: {type(exc).__name__}: {exc}"
    if hashlib.sha256(data).hexdigest() != acked.sha256:
        return f"{key} on {store.name} holds other bytes than the last acknowledged put"
    if version != acked.version:
        return f"{key} on {store.name} is version {version}, the last put acknowledged {acked.version}"
    return None


def verify_objects(stores: Mapping[str, ObjectStore], acked: Mapping[str, Acked]) -> Verification:
    """Read every object in ``acked`` from every store (labelled by the mapping's keys), in parallel."""
    result = Verification(objects=len(acked), stores=list(stores))
    with futures.ThreadPoolExecutor(8, "demo-verify") as pool:
        checks = [pool.submit(_check, store, key, want) for store in stores.values() for key, want in acked.items()]
        for check in checks:
            problem = check.result()
            if problem is None:
                result.verified += 1
            else:
                result.problems.append(problem)
    return result


@dataclass(frozen=True)
class Messages:
    sent: int
    received: int  # distinct messages the consumer got
    duplicates_dropped: int  # copies the dedup window dropped before the consumer saw them
    delivered_twice: int  # messages the consumer got more than once
    lost: int  # sent and never received
    acks_retried: int  # acks cut off in flight, sent again once their queue was back


@dataclass
class Summary:
    """What the run showed; `lines` is what the demo prints."""

    recorder: Recorder
    ran: float
    cut_at: float
    restore_at: float
    aws: Sequence[str]  # the AWS endpoints' names
    drain_store: str  # the endpoint whose backlog the replay empties (S3)
    messages: Messages
    verification: Verification
    timeline: Path | None = None

    @property
    def failed(self) -> int:
        return len(self.recorder.failed)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.verification.complete and self.messages.lost == 0

    def detect_ms(self, endpoint: str) -> float | None:
        """Milliseconds from the first failed call after the cut to the circuit opening."""
        record = self.recorder.endpoints[endpoint]
        first = record.first_failure_after(self.cut_at)
        down = record.first_state_after(HealthState.DOWN, self.cut_at)
        return None if first is None or down is None else max(0.0, down - first) * 1000

    def back_after(self, endpoint: str) -> float | None:
        """Seconds from the restore to the endpoint being HEALTHY again."""
        healthy = self.recorder.endpoints[endpoint].first_state_after(HealthState.HEALTHY, self.restore_at)
        return None if healthy is None else healthy - self.restore_at

    def drain(self) -> tuple[int, float | None]:
        """The largest backlog of the replayed store, and seconds from the restore until it was empty."""
        samples = self.recorder.backlog
        peak = max((counts.get(self.drain_store, 0) for _, counts in samples), default=0)
        emptied = next(
            (at for at, counts in samples if at >= self.restore_at and counts.get(self.drain_store, 0) == 0), None
        )
        return peak, None if emptied is None else emptied - self.restore_at

    def lines(self) -> list[str]:
        recorder, endpoints = self.recorder, self.recorder.endpoints
        ops = recorder.operations
        storage = sum(ops[kind] + ops[f"{kind} failed"] for kind in ("put", "get"))
        queue = sum(ops[kind] + ops[f"{kind} failed"] for kind in ("send", "receive", "ack"))
        failovers = ", ".join(f"{r.label} {r.failovers}" for r in endpoints.values() if r.failovers) or "none"
        detect = ", ".join(f"{endpoints[name].label} {_ms(self.detect_ms(name))}" for name in self.aws)
        back = ", ".join(f"{endpoints[name].label} {_seconds(self.back_after(name))}" for name in self.aws)
        peak, drained = self.drain()
        label = endpoints[self.drain_store].label
        messages, check = self.messages, self.verification
        lines = [
            f"ran:             {self.ran:.1f} s; AWS cut off by DNS failure at {self.cut_at:.1f} s, "
            f"restored at {self.restore_at:.1f} s",
            f"operations:      {storage + queue} (storage {storage}, queue {queue})",
            f"failed:          {self.failed}",
            f"failovers:       {sum(r.failovers for r in endpoints.values())} ({failovers})",
            f"time to detect:  {detect} (first failed call to DOWN)",
            f"back to healthy: {back} after the restore",
            f"time to drain:   {_seconds(drained)} after the restore ({peak} pending copies to {label} replayed)",
            f"messages:        sent {messages.sent}, received {messages.received}, "
            f"duplicates dropped {messages.duplicates_dropped}, delivered twice {messages.delivered_twice}, "
            f"lost {messages.lost}, acks retried after the outage {messages.acks_retried}",
            f"objects:         {check.objects} acknowledged; verified {check.verified}/{check.copies} copies "
            f"on {', '.join(check.stores)} (sha256 and version)",
        ]
        if self.timeline is not None:
            lines.append(f"timeline:        {self.timeline}")
        lines.extend(f"  failed: {line}" for line in recorder.failed[:10])
        lines.extend(f"  not verified: {problem}" for problem in check.problems[:10])
        lines.append("result:          " + ("OK" if self.ok else "FAILED"))
        return lines


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.1f} s"

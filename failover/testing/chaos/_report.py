"""The summary of a chaos run: a Jepsen-style table per operation, the verdicts, and why calls failed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from failover.testing.chaos._check import QueueVerdict, StorageVerdict
from failover.testing.chaos._history import Event, Kind, Outcome

__all__ = ["ChaosSummary", "Row", "StoreRow", "render_rich", "render_text", "summarize"]

COLUMNS = ("operation", "ok", "failed", "indeterminate", "lost", "duplicated", "stale reads")


@dataclass(frozen=True, slots=True)
class Row:
    operation: str
    ok: int = 0
    failed: int = 0
    indeterminate: int = 0
    lost: int = 0
    duplicated: int = 0
    stale_reads: int = 0

    def cells(self) -> tuple[str, ...]:
        return (self.operation, *(str(value) for value in self._counts()))

    def _counts(self) -> tuple[int, ...]:
        return (self.ok, self.failed, self.indeterminate, self.lost, self.duplicated, self.stale_reads)


@dataclass(frozen=True, slots=True)
class StoreRow:
    """One store's final state: keys with the last acknowledged write, with a later unknown one, lost."""

    store: str
    latest: int
    later: int
    lost: int


@dataclass(frozen=True)
class ChaosSummary:
    """What one chaos run did and found. The test asserts on ``lost``, ``stale_reads``,
    ``queue_lost`` and ``exactly_once``; the rest explains them."""

    seed: int
    operations: int  # workload operations (storage ops and sends)
    events: int  # every recorded call, the consumer's included
    phases: tuple[tuple[str, float], ...]  # seconds each phase took (for the report; nothing asserts on them)
    schedule: tuple[str, ...]
    rows: tuple[Row, ...]
    stores: tuple[StoreRow, ...]
    lost: int  # keys whose last acknowledged write some store does not hold
    stale_reads: int
    diverged: int  # keys the stores disagree on, each holding a write that may have happened
    phantom_writes: int  # writes reported failed that a store holds
    unknown_reads: int
    queue_sent: int
    queue_lost: int
    duplicated: int  # message ids the queues delivered more than once (before dedup)
    dropped_by_dedup: int
    processed_twice: int  # handed to the consumer again after a successful ack
    failed_while_healthy: int  # receives and acks that failed while some queue's provider was not broken
    redelivered: int  # handed out again after a failed ack (expected)
    phantom_sends: int
    corrupt: int
    unexpected: int  # exceptions other than FailoverError escaping the library
    journal_backlog: int  # items left in the journal after the final drain
    restarts: tuple[int, ...]  # the journal backlog each replicator kill left to its successor
    failures: tuple[tuple[str, int], ...]  # why calls failed: "op while <broken>: error", count
    details: tuple[str, ...]

    @property
    def exactly_once(self) -> bool:
        """Every acknowledged send processed, and none processed again after it was acked."""
        return self.queue_lost == 0 and self.processed_twice == 0

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.phases)

    @property
    def failed(self) -> int:
        return sum(row.failed for row in self.rows if not row.operation.endswith("(all)"))


def _row(name: str, events: Sequence[Event], **extra: int) -> Row:
    counts = Counter(event.outcome for event in events)
    return Row(name, counts[Outcome.OK], counts[Outcome.FAILED], counts[Outcome.INDETERMINATE], **extra)


def summarize(
    *,
    seed: int,
    operations: int,
    phases: Sequence[tuple[str, float]],
    schedule: Sequence[str],
    events: Sequence[Event],
    storage: StorageVerdict,
    queue: QueueVerdict,
    dropped_by_dedup: int,
    corrupt: int,
    unexpected: int,
    journal_backlog: int,
    restarts: Sequence[int],
) -> ChaosSummary:
    def of(kind: Kind) -> list[Event]:
        return [event for event in events if event.kind is kind]

    receives = [event for event in of(Kind.RECEIVE) if event.key or event.outcome is not Outcome.OK]
    storage_events = of(Kind.PUT) + of(Kind.DELETE) + of(Kind.GET)
    queue_events = of(Kind.SEND) + receives + of(Kind.ACK)
    rows = (
        _row("storage put", of(Kind.PUT), lost=storage.lost_puts),
        _row("storage delete", of(Kind.DELETE), lost=storage.lost_deletes),
        _row("storage get", of(Kind.GET), stale_reads=storage.stale_reads),
        _row("storage (all)", storage_events, lost=storage.lost_keys, stale_reads=storage.stale_reads),
        _row("queue send", of(Kind.SEND), lost=queue.lost),
        _row("queue receive", receives, duplicated=queue.duplicated),
        _row("queue ack", of(Kind.ACK)),
        _row("queue (all)", queue_events, lost=queue.lost, duplicated=queue.duplicated),
    )
    failures = Counter(
        f"{event.kind} while {event.broken or 'nothing broken'}: {event.error}"
        for event in events
        if event.outcome is not Outcome.OK and event.kind is not Kind.NEMESIS
    )
    return ChaosSummary(
        seed=seed,
        operations=operations,
        events=sum(event.kind is not Kind.NEMESIS for event in events),
        phases=tuple(phases),
        schedule=tuple(schedule),
        rows=rows,
        stores=tuple(StoreRow(store.name, store.latest, store.later, store.lost) for store in storage.stores),
        lost=storage.lost_keys,
        stale_reads=storage.stale_reads,
        diverged=storage.diverged,
        phantom_writes=storage.phantoms,
        unknown_reads=storage.unknown_reads,
        queue_sent=queue.sent_ok,
        queue_lost=queue.lost,
        duplicated=queue.duplicated,
        dropped_by_dedup=dropped_by_dedup,
        processed_twice=queue.processed_twice,
        failed_while_healthy=queue.failed_while_healthy,
        redelivered=queue.redelivered,
        phantom_sends=queue.phantoms,
        corrupt=corrupt + queue.corrupt,
        unexpected=unexpected,
        journal_backlog=journal_backlog,
        restarts=tuple(restarts),
        failures=tuple(failures.most_common()),
        details=tuple(storage.details + queue.details),
    )


def _verdict_lines(summary: ChaosSummary) -> list[str]:
    stores = ", ".join(f"{row.store} {row.latest}+{row.later} ok, {row.lost} lost" for row in summary.stores)
    return [
        f"seed {summary.seed}: {summary.operations} operations, {summary.events} calls in {summary.seconds:.1f} s ("
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.phases)
        + ")",
        f"storage: lost {summary.lost}, stale reads {summary.stale_reads}, diverged {summary.diverged}, "
        f"phantom writes {summary.phantom_writes}, journal left {summary.journal_backlog}; per store: {stores}",
        f"queue: {summary.queue_sent} sends acknowledged, lost {summary.queue_lost}, duplicated before dedup "
        f"{summary.duplicated} (dedup dropped {summary.dropped_by_dedup}), processed twice after dedup "
        f"{summary.processed_twice}, redelivered after a failed ack {summary.redelivered}, receives and acks "
        f"failed while a queue was healthy {summary.failed_while_healthy}, "
        f"exactly once: {'yes' if summary.exactly_once else 'NO'}",
        f"replicator killed {len(summary.restarts)}x with journal backlog {list(summary.restarts)}; "
        f"unexpected errors {summary.unexpected}, corrupt {summary.corrupt}",
    ]


def render_text(summary: ChaosSummary) -> str:
    """The summary as plain text (for a test's output)."""
    widths = [max(len(COLUMNS[0]), *(len(row.operation) for row in summary.rows)), *(len(c) for c in COLUMNS[1:])]
    lines = [
        "  ".join(
            name.rjust(width) if i else name.ljust(width)
            for i, (name, width) in enumerate(zip(COLUMNS, widths, strict=True))
        )
    ]
    for row in summary.rows:
        cells = row.cells()
        lines.append(
            "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        )
    lines += _verdict_lines(summary)
    lines += [f"failed: {count} x {why}" for why, count in summary.failures]
    lines += [f"schedule: {'  '.join(summary.schedule)}"]
    lines += summary.details
    return "\n".join(lines)


def render_rich(summary: ChaosSummary) -> None:
    """Print the summary with rich (the ``cli`` extra)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))  # the table's seven columns, even in a pipe
    table = Table(title=f"chaos run, seed {summary.seed}")
    for index, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if index == 0 else "right", no_wrap=True)
    for row in summary.rows:
        bad = row.lost or row.stale_reads
        table.add_row(*row.cells(), style="bold red" if bad else ("bold" if row.operation.endswith("(all)") else None))
    console.print(table)
    for line in _verdict_lines(summary):
        console.print(line, highlight=False)
    if summary.failures:
        failed = Table(title="why calls failed (the providers broken when they did)")
        failed.add_column("calls", justify="right")
        failed.add_column("operation, broken providers, error")
        for why, count in summary.failures:
            failed.add_row(str(count), why)
        console.print(failed)
    console.print("schedule: " + "  ".join(summary.schedule), highlight=False)
    for detail in summary.details:
        console.print(detail, style="red", highlight=False)

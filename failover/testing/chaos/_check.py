"""The checker: what the history and the final state of every store and queue say about loss.

Storage. After the run, every store must hold the key's last acknowledged write (that version and
sha256; a delete: nothing), or a later write whose outcome was unknown or failed (it may have
happened); "last" is real time: a write is out once an acknowledged write began after it ended, so
keys that several writers share are checked too. Anything else on a store is a lost write. A read is
stale when it returned a write that an acknowledged write had followed before the read began (or
nothing, where a put was acknowledged and no delete could explain it).

Queues. Every acknowledged send must have been handed to the consumer at least once. After the
dedup window, a message handed out again after it was acked is processed twice; one handed out
again after its ack failed is an ordinary redelivery. Duplicates are counted before dedup, from
what the adapters themselves delivered.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from failover.testing.chaos._history import WRITES, Event, Kind, Outcome

__all__ = ["QueueVerdict", "StorageVerdict", "StoreVerdict", "check_queue", "check_storage"]

Held = tuple[str | None, str | None] | None
"""What a store holds for a key: (version, sha256), or None when it holds nothing."""

_DETAILS = 20


@dataclass
class StoreVerdict:
    name: str
    latest: int = 0  # keys holding the last acknowledged write
    later: int = 0  # keys holding a later write whose outcome was not ok (it happened after all)
    lost: int = 0


@dataclass
class StorageVerdict:
    keys: int = 0
    lost_keys: int = 0  # keys some store lost the last acknowledged write of
    lost_puts: int = 0
    lost_deletes: int = 0
    diverged: int = 0  # keys the stores do not agree on (each holding something allowed)
    phantoms: int = 0  # keys where a store holds a write reported failed (no effect)
    stale_reads: int = 0
    unknown_reads: int = 0  # reads of a value no write wrote
    stores: list[StoreVerdict] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    suspects: list[tuple[str, int, int | None]] = field(default_factory=list)  # (key, since, until): look here


@dataclass
class QueueVerdict:
    sent_ok: int = 0
    lost: int = 0  # acknowledged sends never handed to the consumer
    duplicated: int = 0  # ids the adapters delivered more than once (before dedup)
    processed_twice: int = 0  # ids handed to the consumer again after a successful ack
    redelivered: int = 0  # ids handed out again after their ack failed (expected)
    phantoms: int = 0  # sends reported failed that were delivered
    indeterminate_delivered: int = 0
    unknown: int = 0  # delivered ids nobody sent
    corrupt: int = 0  # delivered bodies whose sha256 is not the one sent
    failed_while_healthy: int = 0  # receives and acks that failed while some queue's provider was not broken
    details: list[str] = field(default_factory=list)


def _by_key(events: Sequence[Event], kinds: frozenset[Kind]) -> dict[str, list[Event]]:
    grouped: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.kind in kinds:
            grouped[event.key].append(event)
    for chain in grouped.values():
        chain.sort(key=lambda event: event.start)
    return grouped


_INITIAL = Event(-1, "", Kind.DELETE, "", None, None, 0, 0, Outcome.OK)
"""The state before any write: nothing there (a delete that ended before anything began)."""


def _holds(write: Event, held: Held) -> bool:
    """Whether ``held`` is what ``write`` left: its sha256, and its version if it was acknowledged."""
    if write.kind is Kind.DELETE:
        return held is None
    if held is None:
        return False
    version, sha = held
    return sha == write.digest and (write.outcome is not Outcome.OK or version == write.version)


def _superseded(write: Event, chain: Sequence[Event], before: int | None = None) -> bool:
    """Whether an acknowledged write of the key began after ``write`` ended (and ended before ``before``):
    then that write, not this one, is what the key must hold (what a read begun at ``before`` sees)."""
    return any(
        other.outcome is Outcome.OK and write.end < other.start and (before is None or other.end < before)
        for other in chain
    )


def _last_acked(chain: Sequence[Event], before: int | None = None) -> Event | None:
    acked = [w for w in chain if w.outcome is Outcome.OK and (before is None or w.end < before)]
    return max(acked, key=lambda write: write.end, default=None)


def _describe(write: Event | None) -> str:
    return "nothing" if write is None else f"{write.kind} {write.version or ''} at {write.end}".replace("  ", " ")


def check_storage(
    events: Sequence[Event], keys: Sequence[str], final: Mapping[str, Mapping[str, Held]]
) -> StorageVerdict:
    """``final`` maps each store's name to what it holds for every key in ``keys``.

    A store may hold any write (or the initial nothing) that no acknowledged write followed in real
    time: with one writer per key, its last acknowledged write or a later one of unknown outcome;
    with several, any of the concurrent last ones. Anything else is a lost write.
    """
    verdict = StorageVerdict(keys=len(keys), stores=[StoreVerdict(name) for name in final])
    writes = _by_key(events, WRITES)
    for key in keys:
        chain = writes.get(key, [])
        allowed = [write for write in (_INITIAL, *chain) if not _superseded(write, chain)]
        acked = _last_acked(chain)
        states = set()
        lost = phantom = False
        for store in verdict.stores:
            held = final[store.name].get(key)
            states.add(held)
            match = next((write for write in allowed if _holds(write, held)), None)
            if match is None:
                store.lost += 1
                lost = True
                if len(verdict.details) < _DETAILS:
                    verdict.details.append(
                        f"lost: {store.name} holds {held} for {key}; last acknowledged: {_describe(acked)}"
                    )
            elif match.outcome is Outcome.OK:
                store.latest += 1
            else:
                store.later += 1
                phantom = phantom or match.outcome is Outcome.FAILED
        if lost:
            verdict.suspects.append((key, acked.start if acked is not None else 0, None))
            verdict.lost_keys += 1
            if acked is not None and acked.kind is Kind.DELETE:
                verdict.lost_deletes += 1
            else:
                verdict.lost_puts += 1
        verdict.diverged += len(states) > 1
        verdict.phantoms += phantom
    _check_reads(events, writes, verdict)
    return verdict


def _check_reads(events: Sequence[Event], writes: Mapping[str, list[Event]], verdict: StorageVerdict) -> None:
    """A read may return any write that began before it ended and that no acknowledged write had
    followed (in real time) by the time it began; nothing counts as a write of the initial state."""
    for read in events:
        if read.kind is not Kind.GET or read.outcome is not Outcome.OK:
            continue
        chain = writes.get(read.key, [])
        if read.digest is None:
            sources = [_INITIAL, *(write for write in chain if write.kind is Kind.DELETE)]
        else:
            sources = [write for write in chain if write.digest == read.digest]
            if not sources:
                verdict.unknown_reads += 1
                verdict.details.append(f"read of {read.key} returned a value no write wrote ({read.digest})")
                continue
        if any(w.start < read.end and not _superseded(w, chain, before=read.start) for w in sources):
            continue
        verdict.stale_reads += 1
        newest = _last_acked(chain, before=read.start)
        verdict.suspects.append((read.key, newest.start if newest is not None else 0, read.end))
        if len(verdict.details) < _DETAILS:
            verdict.details.append(
                f"stale read: {read.process} read {read.key} at {read.start}-{read.end}, got "
                f"{read.version or 'nothing'}; acknowledged before: {_describe(newest)}"
            )


def broken_providers(event: Event) -> frozenset[str]:
    """The providers the nemesis had broken when ``event`` ended (``"aws:dns+azure:503 (...)"``)."""
    named = event.broken.split(" (", 1)[0]
    return frozenset(part.split(":", 1)[0] for part in named.split("+") if part and part != "nothing")


def check_queue(
    events: Sequence[Event],
    delivered_raw: Mapping[str, int],
    queue_providers: frozenset[str] = frozenset({"aws", "azure"}),
) -> QueueVerdict:
    """``delivered_raw`` counts, per failover id, what the adapters delivered before any dedup;
    ``queue_providers`` are those of the run's queues (a receive or ack may fail only when all are broken)."""
    verdict = QueueVerdict()
    for event in events:
        failed = event.kind in (Kind.RECEIVE, Kind.ACK) and event.outcome is not Outcome.OK
        if failed and queue_providers - broken_providers(event):
            verdict.failed_while_healthy += 1
            if len(verdict.details) < _DETAILS:
                while_ = event.broken or "nothing broken"
                verdict.details.append(
                    f"{event.kind} failed while a queue was healthy ({while_}): {event.error}: {event.message[:300]}"
                )
    sends = {event.key: event for event in events if event.kind is Kind.SEND}
    verdict.sent_ok = sum(event.outcome is Outcome.OK for event in sends.values())
    handed: Counter[str] = Counter()
    acked: set[str] = set()
    timeline = sorted(
        (event for event in events if event.kind in (Kind.RECEIVE, Kind.ACK) and event.key),
        key=lambda event: event.end,
    )
    for event in timeline:
        if event.kind is Kind.ACK:
            if event.outcome is Outcome.OK:
                acked.add(event.key)
            continue
        if handed[event.key]:
            if event.key in acked:
                verdict.processed_twice += 1
                if len(verdict.details) < _DETAILS:
                    verdict.details.append(f"processed twice: {event.key} handed out again after its ack")
            else:
                verdict.redelivered += 1
        handed[event.key] += 1
        sent = sends.get(event.key)
        if sent is None:
            verdict.unknown += 1
        elif sent.digest != event.digest:
            verdict.corrupt += 1
    for key, sent in sends.items():
        if sent.outcome is Outcome.OK and not handed[key]:
            verdict.lost += 1
            if len(verdict.details) < _DETAILS:
                verdict.details.append(f"lost message: {key} (sent by {sent.process} at {sent.end})")
        elif sent.outcome is Outcome.FAILED and handed[key]:
            verdict.phantoms += 1
        elif sent.outcome is Outcome.INDETERMINATE and handed[key]:
            verdict.indeterminate_delivered += 1
    verdict.duplicated = sum(count > 1 for count in delivered_raw.values())
    return verdict

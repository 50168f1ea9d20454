"""Settle the intents a writer left behind: a write journaled as intended, never committed nor
abandoned within its lease (the process died between the store write and the commit, or the journal
failed right then).

Whether the write happened is read from the stores. A put happened where a store holds exactly its
version and content: it is committed with that store as the source and every other store pending
(the replicator's copy checks each target first, so a store that has it already costs a HEAD). A
delete happened where the key is gone or newer: committed as a tombstone pending on the others (the
tombstone never removes a newer version). When every store answered and none shows the write, it
never happened: the intent is abandoned. When some store could not be asked and none showed it, the
intent waits for the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from failover.errors import FailoverError, NotFound
from failover.interfaces import ObjectStore
from failover.replication.journal import Intent, Journal, Op
from failover.replication.stamps import version_order

__all__ = ["settle_intents"]

log = logging.getLogger("failover.replication")


def settle_intents(
    journal: Journal,
    stores: Mapping[str, ObjectStore],
    *,
    now: float,
    is_available: Callable[[str], bool],
    limit: int = 100,
) -> int:
    """Settle up to ``limit`` intents expired at ``now``; how many were settled."""
    settled = 0
    for intent in journal.intents(expired_by=now, limit=limit):
        holders, undecided = _where_it_landed(intent, stores, is_available)
        if holders:
            pending = [name for name in intent.stores if name != holders[0]]
            journal.append(intent.key, intent.version, intent.sha256, intent.size, holders[0], pending, intent.op)
            log.info("settled the intent of %r %s: found on %s", intent.key, intent.version, ", ".join(holders))
        elif not undecided:
            journal.abandon(intent.key, intent.version)
            log.info("settled the intent of %r %s: on no store, abandoned", intent.key, intent.version)
        else:
            continue
        settled += 1
    return settled


def _where_it_landed(
    intent: Intent, stores: Mapping[str, ObjectStore], is_available: Callable[[str], bool]
) -> tuple[list[str], bool]:
    """The stores that show the write, and whether some store could not be asked."""
    holders: list[str] = []
    undecided = False
    for name in intent.stores:
        store = stores.get(name)
        if store is None:
            continue  # no longer configured: it cannot show the write, nor receive it
        if not is_available(name):
            undecided = True
            continue
        try:
            info = store.head(intent.key)
        except NotFound:
            if intent.op is Op.DELETE:
                holders.append(name)
            continue
        except FailoverError as exc:
            log.info("could not ask %s about the intent of %r: %s", name, intent.key, exc)
            undecided = True
            continue
        landed = (
            info.version == intent.version and info.sha256 == intent.sha256
            if intent.op is Op.PUT
            else version_order(info.version) > intent.version
        )
        if landed:
            holders.append(name)
    return holders, undecided

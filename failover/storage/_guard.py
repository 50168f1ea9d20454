"""A write that lands only over an older version: for writes that hold no turn among the fleet's writers.

The fleet's journal gives the writers of one key turns (an intent in PostgreSQL), so an older stamp
never lands over a newer one. While the database is away, an intent is recorded in the local spool
only and holds no turn: two processes writing one key can then reach a store in the reverse order of
their stamps, and the older would overwrite the newer, an acknowledged write lost on that store with
nothing pending to mend it. So such a write reads the store's current version first and writes on
the store's own precondition for it (S3 ``If-Match``/``If-None-Match``, a GCS generation, an Azure
ETag): a store that holds a newer version keeps it, and the write is superseded there, as if it had
come first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from failover.adapters._timing import MIN_REQUEST
from failover.clock import Clock
from failover.errors import NotFound, PreconditionFailed
from failover.interfaces import ObjectInfo, ObjectStore
from failover.policy.deadline import Deadline

__all__ = ["over_older"]

Send = Callable[[str | None, Literal["*"] | None, float], ObjectInfo]
"""``(if_match, if_none_match, timeout)``: the write itself, on the store's own precondition."""

_ROUNDS = 3  # another writer changing the key between the look and the write: look again


def over_older(store: ObjectStore, key: str, version: str, send: Send, timeout: float, clock: Clock) -> ObjectInfo:
    """``send`` if ``store`` holds no version of ``key`` newer than ``version``; else the store's own
    (newer) record, untouched. Both requests come out of the one attempt's ``timeout``."""
    within = Deadline(timeout, clock, floor=0.0)
    for round_ in range(_ROUNDS):
        try:
            current = store.head(key, timeout=max(within.remaining(), MIN_REQUEST))
        except NotFound:
            condition: tuple[str | None, Literal["*"] | None] = (None, "*")
        else:
            if current.version is not None and current.version > version:
                return current
            condition = (current.etag, None)
        try:
            return send(*condition, max(within.remaining(), MIN_REQUEST))
        except PreconditionFailed:
            if round_ == _ROUNDS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover

"""The queue backends of one drop-in SQS client: a `FailoverQueue` per mapped queue name.

A name is served once CreateQueue made it (on every provider it maps to) or GetQueueUrl found it
on one of them; each `FailoverQueue` is built from the configuration's ``[queue]`` and ``[engine]``
with the name's queues in place of ``[queues.*]``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from failover.compat._mapping import NameMap
from failover.compat._sqs.backend import QueueBackend
from failover.compat._sqs.counts import counter_of
from failover.compat._sqs.queues import check_attributes
from failover.compat._when_back import WhenBack
from failover.config import FailoverConfig
from failover.errors import FailoverError, NotFound
from failover.interfaces import MessageQueue
from failover.queue import FailoverQueue, probe_queue, queue_from_config

__all__ = ["QueueBackends", "QueueSource"]

log = logging.getLogger(__name__)

QueueSource = Mapping[str, MessageQueue] | Callable[[str], "MessageQueue | None"]
"""Ready-made queues by name, or a function from a queue name to one (None: unmapped)."""
PROBE_TIMEOUT = 5.0


class QueueBackends:
    def __init__(
        self,
        *,
        config: FailoverConfig | None,
        aws: Mapping[str, Any],
        queues: QueueSource | None,
        url_base: str,
    ) -> None:
        self._names = NameMap(config, aws) if config is not None else None
        self._given = queues
        self._url_base = url_base.rstrip("/")
        self._backends: dict[str, QueueBackend] = {}
        self._lock = threading.Lock()
        self.when_back = WhenBack("failover-queues")

    def mapped(self, name: str) -> bool:
        if self._given is not None:
            return True
        assert self._names is not None
        return self._names.queue(name) is not None

    def get(
        self, name: str, *, create: bool = False, attributes: Mapping[str, str] | None = None
    ) -> QueueBackend | None:
        """The backend of ``name``; None when it is not mapped. Raises NotFound for a queue that
        does not exist (and is not being created)."""
        with self._lock:
            backend = self._backends.get(name)
            if backend is None:
                if create:
                    check_attributes(attributes or {}, creating=True)
                queue = self._build(name, create)
                if queue is None:
                    return None
                if not create and self._given is None:
                    _exists(queue, name)
                endpoints = self._endpoints(name)
                backend = self._backends[name] = QueueBackend(
                    name,
                    self.url(name),
                    queue,
                    counters=[counter for counter in map(counter_of, endpoints) if counter is not None],
                    endpoints=endpoints,
                    owed=self.when_back,
                )
            if create and attributes:
                backend.attributes.update({k: v for k, v in attributes.items() if k != "FifoQueue"})
            return backend

    def _build(self, name: str, create: bool) -> MessageQueue | None:
        if self._given is not None:
            return self._given.get(name) if isinstance(self._given, Mapping) else self._given(name)
        assert self._names is not None
        endpoints = self._names.queue(name)
        if endpoints is None:
            return None
        if create:
            missed = _create_where_reachable(endpoints)
            if missed:
                self.when_back.add(name, missed, _created)
        scoped = self._names.config.model_copy(update={"queues": {f"q{i}": q for i, q in enumerate(endpoints)}})
        return FailoverQueue.from_config(scoped)

    def _endpoints(self, name: str) -> list[Any]:
        endpoints = self._names.queue(name) if self._names is not None and self._given is None else None
        return list(endpoints or [])

    def url(self, name: str) -> str:
        return f"{self._url_base}/{name}"

    @property
    def names(self) -> NameMap | None:
        return self._names

    def given(self) -> list[str]:
        """The queue names the caller gave as a mapping (none for a function or a configuration)."""
        return sorted(self._given) if isinstance(self._given, Mapping) else []

    def forget(self, name: str) -> None:
        """Close and drop the backend of ``name`` (deleted): the next call finds out again."""
        with self._lock:
            backend = self._backends.pop(name, None)
        if backend is not None and self._given is None:
            backend.queue.close()

    def close(self) -> None:
        self.when_back.close()
        with self._lock:
            built, self._backends = self._backends, {}
        if self._given is None:
            for backend in built.values():
                backend.queue.close()


def _created(endpoint: Any) -> bool:
    """Create the queue ``endpoint`` names if it is missing; False when the provider did not answer."""
    try:
        queue_from_config(endpoint.model_copy(update={"ensure": True})).close()
    except FailoverError as exc:
        log.warning("CreateQueue: %s not created on %s now: %s", endpoint.kind, endpoint.name or endpoint.kind, exc)
        return False
    return True


def _create_where_reachable(endpoints: list[Any]) -> dict[int, Any]:
    """Create the queue on every provider that answers; those that do not (by position) are returned,
    to be created when they answer again (SQS's CreateQueue is idempotent, so are the others')."""
    return {index: endpoint for index, endpoint in enumerate(endpoints) if not _created(endpoint)}


def _exists(queue: MessageQueue, name: str) -> None:
    """Whether the queue exists: the first provider (in order) that answers a probe decides."""
    members = queue.queues if isinstance(queue, FailoverQueue) else (queue,)
    for member in members:
        try:
            probe_queue(member, PROBE_TIMEOUT)
            return
        except NotFound:
            queue.close()
            raise NotFound(f"the queue {name!r} does not exist") from None
        except Exception:  # unreachable: the next provider decides
            continue

"""`FaultyStore`: an `ObjectStore` that wraps another and fails on cue, for unit tests of failover.

Wrap a `MemoryStore` (or any store), script the failures, and count what reached it::

    from failover.adapters.memory import MemoryStore
    from failover.testing.faulty import FaultyStore, refused, timed_out

    aws = FaultyStore(MemoryStore("aws"))
    aws.fail(refused())                      # every call raises ProviderUnavailable(REFUSED)
    aws.fail(timed_out(), "put", times=1, after=True)   # the next put is stored, then times out
    ...
    assert aws.calls["put"] == 1             # calls that reached the wrapper, failed or not
    aws.heal()

``after=True`` lets the call reach the wrapped store before the error is raised: a write that
happened although its caller heard a timeout (`OutcomeUnknown`). With a `ManualClock`, ``latency``
advances the clock on each call, so deadline tests need no real time. Thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from failover.errors import AccessDenied, Disposition, FailoverError, OutcomeUnknown, ProviderUnavailable, Reason
from failover.interfaces import Capabilities, Data, ListEntry, ObjectInfo, ObjectStore
from failover.reader import ObjectReader
from failover.testing._script import ErrorFactory, Rule, ScriptedWrapper, error_factory

__all__ = [
    "OPERATIONS",
    "FaultyStore",
    "denied",
    "forbidden",
    "no_bucket",
    "refused",
    "server_error",
    "throttled",
    "timed_out",
    "unresolvable",
]

OPERATIONS = ("put", "get", "get_bytes", "head", "delete", "list", "copy")


def refused() -> ProviderUnavailable:
    """Connect refused: nothing listens (opens the circuit at once)."""
    return ProviderUnavailable("connection refused", reason=Reason.REFUSED)


def unresolvable() -> ProviderUnavailable:
    """The endpoint's host name does not resolve (opens the circuit at once)."""
    return ProviderUnavailable("name does not resolve", reason=Reason.DNS)


def server_error() -> ProviderUnavailable:
    """A 503: worth a retry on the same provider."""
    return ProviderUnavailable("503 Service Unavailable", reason=Reason.SERVER_ERROR, disposition=Disposition.RETRY)


def throttled() -> ProviderUnavailable:
    """A 429 or SlowDown: worth a retry on the same provider."""
    return ProviderUnavailable("429 Too Many Requests", reason=Reason.THROTTLED, disposition=Disposition.RETRY)


def denied() -> AccessDenied:
    """Credentials rejected: the provider is down for us."""
    return AccessDenied("403 AccessDenied")


def forbidden() -> AccessDenied:
    """One request refused by policy (S3's 403 on a missing key without s3:ListBucket): the provider is up."""
    return AccessDenied("403 AccessDenied", reason=Reason.FORBIDDEN)


def no_bucket() -> ProviderUnavailable:
    """The bucket is missing on this store: its fault (opens the circuit at once)."""
    return ProviderUnavailable("NoSuchBucket", reason=Reason.NO_BUCKET)


def timed_out() -> OutcomeUnknown:
    """A write sent and never answered: it may or may not have happened."""
    return OutcomeUnknown("timed out after sending")


class FaultyStore(ScriptedWrapper[ObjectStore]):
    """An `ObjectStore` over ``inner`` that raises scripted errors and counts calls per operation.

    ``calls[op]`` counts every call of ``op`` (failed or not), ``failures[op]`` those that raised a
    scripted error. ``name`` defaults to the inner store's.
    """

    _operations = OPERATIONS

    def fail(
        self,
        error: FailoverError | ErrorFactory | None = None,
        *operations: str,
        times: int | None = None,
        after: bool = False,
    ) -> None:
        """Raise ``error`` (default: `refused`) on the next ``times`` calls (None: until `heal`) of
        ``operations`` (default: all). ``after``: the call reaches the wrapped store first."""
        if isinstance(error, str):
            raise TypeError(f"fail() takes the error first, then the operations: fail(refused(), {error!r})")
        covered = self._covered(operations)
        self._add(Rule(error_factory(error if error is not None else refused), covered, times, after))

    # -- the ObjectStore ---------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: Literal["*"] | None = None,
        if_match: str | None = None,
        timeout: float | None = None,
    ) -> ObjectInfo:
        return self._run(
            "put",
            lambda: self.inner.put(
                key,
                data,
                content_type=content_type,
                metadata=metadata,
                if_none_match=if_none_match,
                if_match=if_match,
                timeout=timeout,
            ),
        )

    def get(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> ObjectReader:
        return self._run("get", lambda: self.inner.get(key, byte_range=byte_range, timeout=timeout))

    def get_bytes(
        self, key: str, *, byte_range: tuple[int, int | None] | None = None, timeout: float | None = None
    ) -> bytes:
        return self._run("get_bytes", lambda: self.inner.get_bytes(key, byte_range=byte_range, timeout=timeout))

    def head(self, key: str, *, timeout: float | None = None) -> ObjectInfo:
        return self._run("head", lambda: self.inner.head(key, timeout=timeout))

    def delete(self, key: str, *, if_match: str | None = None, timeout: float | None = None) -> None:
        if if_match is None:
            self._run("delete", lambda: self.inner.delete(key, timeout=timeout))
        else:
            self._run("delete", lambda: self.inner.delete(key, if_match=if_match, timeout=timeout))

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, timeout: float | None = None
    ) -> Iterator[ListEntry]:
        return self._run("list", lambda: self.inner.list(prefix, delimiter=delimiter, timeout=timeout))

    def copy(self, src: str, dst: str, *, timeout: float | None = None) -> ObjectInfo:
        return self._run("copy", lambda: self.inner.copy(src, dst, timeout=timeout))

    def __repr__(self) -> str:
        return f"FaultyStore({self.inner!r}, name={self._name!r}, rules={len(self._rules)})"

"""An object's NotFound told apart from its bucket's, where the provider's answer does not say which.

S3 answers a HEAD with no body, so a HEAD of a key in a bucket that does not exist is the same bare
404 as a missing key; fake-gcs-server (and GCS clients that drop the message) answer both with
"Not Found". A missing bucket is that store's fault (DESIGN section 4): the engine must fail over
and mark the endpoint DOWN, not return NotFound while another store holds the key. So, on an
object's NotFound, the adapter asks `BucketCheck` whether the bucket exists: one cheap bucket call,
at most once per ``interval`` seconds while the bucket keeps existing (the happy path and repeated
misses cost nothing), every time while it is missing (the endpoint is DOWN then, and its prober is
the only caller).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from failover.errors import Disposition, FailoverError, NotFound, ProviderUnavailable, Reason

__all__ = ["BucketCheck", "missing_bucket"]


def missing_bucket(error: FailoverError, bucket: str, kind: str = "bucket") -> ProviderUnavailable:
    """The FAILOVER error for an answer that proved ``bucket`` missing on ``error``'s provider."""
    return ProviderUnavailable(
        f"{kind} {bucket!r} does not exist on this store ({error.message})",
        reason=Reason.NO_BUCKET,
        disposition=Disposition.FAILOVER,
        provider=error.provider,
        operation=error.operation,
        key=error.key,
    )


class BucketCheck:
    """Whether the NotFound of an object means its bucket is missing.

    ``exists(timeout)`` is the adapter's bucket call: True or False, or raises (then nothing is
    concluded and the NotFound stands).
    """

    def __init__(
        self,
        bucket: str,
        exists: Callable[[float | None], bool],
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket = bucket
        self._exists = exists
        self.interval = interval
        self._clock = clock
        self._confirmed_at: float | None = None

    def check(self, error: NotFound, timeout: float | None) -> FailoverError:
        """``error`` when the bucket exists (or that cannot be told), else a `missing_bucket` error."""
        now = self._clock()
        if self._confirmed_at is not None and now - self._confirmed_at < self.interval:
            return error
        try:
            exists = self._exists(timeout)
        except Exception:
            return error
        if exists:
            self._confirmed_at = now
            return error
        self._confirmed_at = None
        return missing_bucket(error, self.bucket)

"""Cancelling a GCS resumable upload that failed part-way.

google-cloud-storage's ``upload_from_file`` opens a resumable session for a large body and keeps its
URL to itself: when a chunk fails, the session stays open until GCS expires it (a week). `Sessions`
sees each session the SDK opens for one blob (it wraps that blob's ``_initiate_resumable_upload``,
the one private SDK method the adapter relies on; `tests/adapters/test_upload_cleanup.py` pins it)
and cancels an unfinished one with the documented call: ``DELETE`` on the session URL, which GCS
answers with 499. When the cancel fails too (the network that broke the upload is still down),
the URL is kept, and cancelled again after the store's next put that succeeds, like the S3
adapter's unaborted multipart uploads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["Sessions"]

log = logging.getLogger("failover.adapters.gcp")

_MAX_KEPT = 1000  # URLs of failed cancels kept for a retry, at most (older ones are dropped)


class Sessions:
    """The resumable sessions a store opened, and those whose cancel failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uncancelled: dict[str, Any] = {}  # session URL -> the transport that opened it

    def __len__(self) -> int:
        with self._lock:
            return len(self._uncancelled)

    def watch(self, blob: Any) -> list[Any]:
        """Record the resumable uploads ``blob`` opens from now on (the list fills as it uploads)."""
        opened: list[Any] = []
        initiate = getattr(blob, "_initiate_resumable_upload", None)
        if initiate is None:  # an SDK without it: uploads work, a failed one is not cancelled
            return opened

        def recording(*args: Any, **kwargs: Any) -> Any:
            upload, transport = initiate(*args, **kwargs)
            opened.append((upload, transport))
            return upload, transport

        blob._initiate_resumable_upload = recording
        return opened

    def cancel_unfinished(self, opened: list[Any], timeout: float) -> None:
        """Cancel each upload in ``opened`` that did not finish; keep those whose cancel failed."""
        for upload, transport in opened:
            url = getattr(upload, "resumable_url", None)
            if url is not None and not getattr(upload, "finished", False):
                self._cancel(url, transport, timeout)

    def retry(self, timeout: float) -> None:
        """Cancel again the sessions whose cancel failed (called once GCS answers again)."""
        with self._lock:
            pending = list(self._uncancelled.items())
            self._uncancelled.clear()
        for url, transport in pending:
            self._cancel(url, transport, timeout)

    def _cancel(self, url: str, transport: Any, timeout: float) -> None:
        # The URL is not logged: its upload_id lets anyone holding it write to the session.
        try:
            status = transport.request("DELETE", url, timeout=timeout).status_code
        except Exception as exc:
            reason = type(exc).__name__
        else:
            if status < 500:  # 499: cancelled; 404 or 410: finished or gone already
                return
            reason = f"HTTP {status}"
        log.warning("could not cancel a GCS resumable upload (%s); will retry", reason)
        with self._lock:
            if len(self._uncancelled) >= _MAX_KEPT:
                self._uncancelled.pop(next(iter(self._uncancelled)))
            self._uncancelled[url] = transport

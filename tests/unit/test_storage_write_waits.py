"""Waits in the write path come out of the call's deadline: behind other writers of the key, behind
the replicator's copy of it, and in `drain(timeout=)`."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent import futures
from pathlib import Path
from typing import Literal

from failover.adapters.memory import MemoryStore
from failover.engine import EngineSettings
from failover.errors import FailoverError, ProviderUnavailable, Reason
from failover.health import HealthPolicy
from failover.interfaces import Data, ObjectInfo
from failover.storage import FailoverStorage
from tests.unit.replication_support import Slow

SETTINGS = EngineSettings(start_probers=False)


class Hung(MemoryStore):
    """Every put hangs for its whole attempt timeout, then times out (a provider that stopped answering)."""

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
        time.sleep(min(timeout or 10.0, 5.0))
        raise ProviderUnavailable("read timed out", provider=self.name, reason=Reason.READ_TIMEOUT)


def test_six_writers_of_one_key_during_a_hang_each_finish_within_the_deadline(tmp_path: Path) -> None:
    # A breaker slow to open (a brownout rather than a clean outage): every writer meets the hang.
    health = HealthPolicy(consecutive_failures=100)
    settings = EngineSettings(start_probers=False, attempt_timeout=1.0, max_attempts=1, health=health)
    with FailoverStorage(
        [Hung("aws"), MemoryStore("gcp")], journal=tmp_path / "j.sqlite", settings=settings, replicate=False
    ) as storage:

        def put(n: int) -> tuple[float, str]:
            started = time.monotonic()
            try:
                storage.put("k", f"writer {n}".encode(), timeout=3.0)
                outcome = "ok"
            except FailoverError as exc:
                outcome = type(exc).__name__
            return time.monotonic() - started, outcome

        with futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(put, range(6)))
    slowest = max(elapsed for elapsed, _ in results)
    assert slowest < 3.3, f"a put(timeout=3) took {slowest:.2f} s: {results}"
    assert any(outcome == "ok" for _, outcome in results), results


def test_put_of_a_key_the_replicator_is_copying_does_not_wait_for_the_copy(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), Slow("b")
    with FailoverStorage([a, b], journal=tmp_path / "j.sqlite", settings=SETTINGS, replicate=False) as storage:
        storage.put("k", b"old")
        b.hold.clear()
        copying = threading.Thread(target=storage.drain, daemon=True)
        copying.start()
        assert b.entered.wait(5), "the copy never started"
        started = time.monotonic()
        storage.put("k", b"new", timeout=1.0)
        elapsed = time.monotonic() - started
        b.hold.set()
        copying.join(5)
        storage.drain(timeout=5)
        assert elapsed < 0.5, f"the put waited {elapsed:.2f} s for the replicator's copy of the key"
        assert b.get_bytes("k") == b"new", "the older copy stayed on b"


def test_drain_with_a_timeout_returns_in_time_while_a_copy_hangs(tmp_path: Path) -> None:
    a, b = MemoryStore("a"), Slow("b")
    with FailoverStorage([a, b], journal=tmp_path / "j.sqlite", settings=SETTINGS, replicate=False) as storage:
        for n in range(5):
            storage.put(f"k{n}", b"x")
        b.hold.clear()
        started = time.monotonic()
        storage.drain(timeout=3)
        elapsed = time.monotonic() - started
        b.hold.set()
    assert 2.9 <= elapsed < 3.3, f"drain(timeout=3) took {elapsed:.2f} s"

"""``failover status``: probe every configured store and queue, print who answers and how fast.

A store is probed with a GET of the canary key the failover engine's probers use
(`failover.storage.PROBE_KEY`): NotFound is an answer, so the store is reachable, and so is a
refusal of that one request by policy (a least-privilege role); rejected credentials or a missing
bucket are not. A queue is probed with its adapter's `probe` (its attributes). The latency shown is
a second probe's: the first also builds the SDK's client and opens a connection. Resources are never
created here: ``ensure`` is off whatever the configuration says. The endpoints are probed in
parallel, so a dead one costs its timeout once, not once per endpoint after it.
Below the table: how writes are acknowledged in the configured mode with these stores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from failover.cli._build import PROVIDER_OF, endpoint_label
from failover.cli._journal import print_journal
from failover.config import FailoverConfig, QueueConfig, StoreConfig, load_config
from failover.errors import ConfigError, FailoverError, NotFound, ProviderError
from failover.policy import is_refusal
from failover.queue import SupportsProbe, queue_from_config
from failover.replication.state import journal_file_name, state_dir
from failover.storage import PROBE_KEY, build_store, default_quorum

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["ProbeResult", "probe_queue_config", "probe_store_config", "run_status"]


@dataclass(frozen=True)
class ProbeResult:
    name: str
    kind: str
    provider: str
    reachable: bool
    detail: str  # "reachable", or why not
    latency_ms: float | None = None


def _why(exc: BaseException) -> str:
    if isinstance(exc, ProviderError):
        reason = exc.reason.value
        return exc.message if exc.message.startswith(reason) else f"{reason}: {exc.message}"
    if isinstance(exc, FailoverError):
        return f"{type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _probe(config: StoreConfig | QueueConfig, build: Callable[[], tuple[str, Callable[[], object]]]) -> ProbeResult:
    """Build the adapter, probe it, and if it answered, probe it again to time the answer: the first
    call also builds the SDK's client and opens the connection, which no later call pays."""
    provider = PROVIDER_OF[config.kind]
    try:
        name, call = build()
    except Exception as exc:  # a missing extra, a malformed endpoint: this row's answer, not the command's
        return ProbeResult(endpoint_label(config), config.kind, provider, False, _why(exc))
    detail = "reachable"
    for _ in range(2):
        started = time.perf_counter()
        try:
            call()
        except NotFound as exc:
            detail = "reachable" if config.kind in ("s3", "gcs", "azure_blob") else f"reachable, but {exc.message}"
        except Exception as exc:
            if is_refusal(exc):
                detail = "reachable (the canary is refused by policy)"
                continue
            return ProbeResult(name, config.kind, provider, False, _why(exc), (time.perf_counter() - started) * 1000)
    return ProbeResult(name, config.kind, provider, True, detail, (time.perf_counter() - started) * 1000)


def probe_store_config(config: StoreConfig, timeout: float) -> ProbeResult:
    """GET the canary key on the store ``config`` describes (built without ``ensure``)."""

    store = None

    def build() -> tuple[str, Callable[[], object]]:
        nonlocal store
        store = built = build_store(config.model_copy(update={"ensure": False}))
        return built.name, lambda: built.get(PROBE_KEY, byte_range=(0, 1), timeout=timeout).close()

    try:
        return _probe(config, build)
    finally:
        if store is not None:
            store.close()


def probe_queue_config(config: QueueConfig, timeout: float) -> ProbeResult:
    """The queue adapter's own `probe` (built without ``ensure``); a queue without one is not probed."""

    queue = None

    def build() -> tuple[str, Callable[[], object]]:
        nonlocal queue
        queue = built = queue_from_config(config.model_copy(update={"ensure": False}))
        if not isinstance(built, SupportsProbe):
            raise ConfigError(f"{built.name} has no probe: status does not receive from it", field="queues")
        return built.name, lambda: built.probe(timeout=timeout)

    try:
        return _probe(config, build)
    finally:
        if queue is not None:
            queue.close()


def _show_journal(path: Path | None, config: FailoverConfig, store_names: list[str], console: Console) -> None:
    from failover.replication import SqliteJournal

    if path is None and config.fleet is not None:
        from failover.fleet import PostgresJournal

        with PostgresJournal.open(config.fleet) as fleet:
            print_journal(fleet, f"of the fleet (schema {config.fleet.schema_name})", console)
        return
    if path is None:
        path = config.storage.journal
    if path is None:
        if not store_names:
            return
        path = state_dir(configured=config.state_dir) / journal_file_name(store_names)
        if not path.is_file():
            return
    with SqliteJournal(path) as opened:
        print_journal(opened, str(path), console)


def run_status(config_path: Path, console: Console, *, timeout: float, journal: Path | None = None) -> int:
    """Print one row per endpoint, then the journal's backlog and dead letters; 1 if any endpoint is
    unreachable. The journal is ``journal``, else the fleet's with a ``[fleet]`` table, else the
    default journal of the configured stores when one exists (`failover.replication.state`)."""
    from rich.table import Table
    from rich.text import Text

    config = load_config(config_path)
    if not config.stores and not config.queues:
        raise ConfigError(f"{config_path} configures no storage and no queues", field="storage")
    with futures.ThreadPoolExecutor(8, "failover-status") as pool:
        pending = [pool.submit(probe_store_config, entry, timeout) for entry in config.stores.values()]
        pending += [pool.submit(probe_queue_config, entry, timeout) for entry in config.queues.values()]
        results = [future.result() for future in pending]
    table = Table(title=f"failover status: {config_path}")
    for column in ("name", "kind", "provider", "status", "latency ms"):
        table.add_column(column, justify="right" if column == "latency ms" else "left")
    for result in results:
        status = Text(result.detail, style="green" if result.reachable else "bold red")
        latency = "" if result.latency_ms is None else f"{result.latency_ms:.1f}"
        table.add_row(result.name, result.kind, result.provider, status, latency)
    console.print(table)
    _show_journal(journal, config, [result.name for result in results[: len(config.stores)]], console)
    down = [result.name for result in results if not result.reachable]
    reachable = len(results) - len(down)
    console.print(
        f"{reachable} of {len(results)} reachable" + (f"; unreachable: {', '.join(down)}" if down else ""),
        highlight=False,
    )
    if config.stores:
        stores, section = len(config.stores), config.storage
        if section.mode == "primary":
            how = "acknowledged at 1 store plus the journal entry for the others"
        else:
            quorum = section.write_quorum if section.write_quorum is not None else default_quorum(stores)
            how = f"acknowledged at {quorum} of {stores} stores, the others journaled"
            if quorum >= stores:
                how += "; writes fail while any store is down"
        console.print(f"writes: mode={section.mode}, {how}", highlight=False)
    return 1 if down else 0

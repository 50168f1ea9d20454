"""FailoverStorage calls: what fails over, what does not, deadlines, the errors, the wiring."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.config import FailoverConfig, parse_config
from failover.engine import EngineSettings
from failover.errors import (
    AllProvidersFailed,
    ConfigError,
    FailoverError,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
)
from failover.health import HealthState
from failover.interfaces import Capabilities, ObjectStore
from failover.replication import SqliteJournal
from failover.storage import FailoverStorage
from failover.testing.faulty import (
    FaultyStore,
    denied,
    refused,
    server_error,
    throttled,
    timed_out,
    unresolvable,
)
from tests.unit.storage_rig import SETTINGS, Rig, rig


@pytest.fixture
def two() -> Iterator[Rig]:
    yield from rig()


def test_failover_storage_is_an_object_store() -> None:
    store: ObjectStore = FailoverStorage([MemoryStore("a"), MemoryStore("b")], replicate=False)
    try:
        assert isinstance(store, ObjectStore)
        assert (store.name, store.provider) == ("failover:a+b", "failover")
    finally:
        store.close()


def test_capabilities_are_what_every_store_can_do() -> None:
    small = MemoryStore("small", capabilities=Capabilities(max_object_size=10, conditional_update=False))
    with FailoverStorage([MemoryStore("big"), small], replicate=False) as storage:
        capabilities = storage.capabilities
    assert capabilities.max_object_size == 10
    assert capabilities.conditional_create
    assert not capabilities.conditional_update
    assert not capabilities.server_side_copy, "FailoverStorage.copy streams and restamps; it is not server-side"


@pytest.mark.parametrize(
    "error",
    [refused(), unresolvable(), denied(), server_error(), throttled(), timed_out()],
    ids=["refused", "dns", "denied", "503", "429", "outcome-unknown"],
)
@pytest.mark.parametrize("operation", ["put", "get_bytes", "head", "delete"])
def test_each_failover_disposition_moves_the_call_to_the_next_store(
    two: Rig, error: FailoverError, operation: str
) -> None:
    two.storage.put("k", b"v")
    two.storage.drain()
    two.aws.reset_counts()
    two.gcp.reset_counts()
    two.aws.fail(error)
    calls: dict[str, Callable[[], object]] = {
        "put": lambda: two.storage.put("k", b"w"),
        "get_bytes": lambda: two.storage.get_bytes("k"),
        "head": lambda: two.storage.head("k"),
        "delete": lambda: two.storage.delete("k"),
    }
    calls[operation]()
    called = "get" if operation == "get_bytes" else operation  # get_bytes streams, to check its deadline
    assert two.gcp.calls[called] == 1, f"{operation} did not reach the second store"
    assert 1 <= two.aws.calls[called] <= 2, "more than one retry on the failing store"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (lambda rig: rig.storage.put("k", b"again", if_none_match="*"), PreconditionFailed),
        (lambda rig: rig.storage.put("k", b"again", if_match='"not-the-etag"'), PreconditionFailed),
        (lambda rig: rig.storage.get_bytes("missing"), NotFound),
        (lambda rig: rig.storage.head("missing"), NotFound),
        (lambda rig: rig.storage.copy("missing", "dst"), NotFound),
    ],
    ids=["if-none-match", "if-match", "get-missing", "head-missing", "copy-missing"],
)
def test_fatal_answers_are_not_failed_over(
    two: Rig, script: Callable[[Rig], object], expected: type[Exception]
) -> None:
    two.storage.put("k", b"v")
    two.storage.drain()
    two.gcp.reset_counts()
    with pytest.raises(expected):
        script(two)
    assert two.gcp.total_calls == 0, f"a {expected.__name__} answer was failed over"
    assert two.state("aws") is HealthState.HEALTHY


def test_invalid_request_from_a_store_is_not_failed_over(two: Rig) -> None:
    two.aws.fail(InvalidRequest("the provider refused the request", rule="aws.request"))
    with pytest.raises(InvalidRequest):
        two.storage.put("k", b"v")
    assert two.gcp.total_calls == 0
    assert two.storage.journal.backlog() == {}, "a failed put was journaled"


def test_all_stores_failing_raises_all_providers_failed_with_each_error(two: Rig) -> None:
    two.aws.fail(refused())
    two.gcp.fail(denied())
    with pytest.raises(AllProvidersFailed) as caught:
        two.storage.put("k", b"v")
    assert [error.reason.value for error in caught.value.errors] == ["refused", "auth"]  # type: ignore[attr-defined]
    assert [error.provider for error in caught.value.errors] == ["memory", "memory"]
    assert two.storage.journal.backlog() == {}, "a write no store acknowledged was journaled"


def test_a_down_store_is_named_as_not_called(two: Rig) -> None:
    two.aws.fail(refused())
    two.storage.put("k", b"v")  # opens aws's circuit
    two.gcp.fail(refused())
    with pytest.raises(AllProvidersFailed) as caught:
        two.storage.put("k2", b"v")
    assert two.aws.calls["put"] == 1, "a store with an open circuit was called"
    assert "aws was not called: its circuit is open" in str(caught.value)


def test_no_failover_starts_with_no_time_left() -> None:
    made = Rig()
    made.aws.latency = 0.98  # the manual clock moves 0.98 s during each aws call
    made.aws.fail(refused())
    with pytest.raises(AllProvidersFailed) as caught:
        made.storage.put("k", b"v", timeout=1.0)
    assert made.aws.calls["put"] == 1
    assert made.gcp.total_calls == 0, "a failover started with 0.02 s left"
    assert "no time left" in str(caught.value)
    made.close()


def test_the_default_deadline_comes_from_the_settings() -> None:
    made = Rig(settings=EngineSettings(start_probers=False, deadline=0.5))
    made.aws.latency = 0.49
    made.aws.fail(timed_out())
    with pytest.raises(AllProvidersFailed):
        made.storage.put("k", b"v")
    assert made.gcp.total_calls == 0
    made.close()


def test_state_change_and_failover_listeners_hear_the_outage(two: Rig) -> None:
    changes: list[tuple[str, HealthState, HealthState]] = []
    failovers: list[tuple[str, str | None, str]] = []
    two.storage.on_state_change(lambda name, old, new, reason: changes.append((name, old, new)))
    two.storage.on_failover(lambda source, target, operation, error: failovers.append((source, target, operation)))
    two.aws.fail(refused())
    two.storage.put("k", b"v")
    assert changes == [("aws", HealthState.HEALTHY, HealthState.DOWN)]
    assert failovers == [("aws", "gcp", "put")]


def test_probes_read_the_canary_and_a_not_found_brings_the_store_back(two: Rig) -> None:
    two.aws.fail(refused())
    two.storage.put("k", b"v")
    two.aws.heal()
    two.clock.advance(SETTINGS.probe_backoff.base)
    two.storage.engine.probe_now()
    assert two.state("aws") is HealthState.PROBING
    assert two.aws.calls["get"] == 1, "one probe: a GET of the canary (its error code tells credentials from policy)"


def test_config_mistakes_are_config_errors() -> None:
    stores = [MemoryStore("a"), MemoryStore("b")]
    with pytest.raises(ConfigError, match="mode"):
        FailoverStorage(stores, mode="fastest", replicate=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="write_quorum"):
        FailoverStorage(stores, mode="mirror", write_quorum=3, replicate=False)
    with pytest.raises(ConfigError, match="write_quorum"):
        FailoverStorage(stores, write_quorum=1, replicate=False)
    with pytest.raises(ConfigError):
        FailoverStorage([], replicate=False)
    with pytest.raises(ConfigError, match="writer id"):
        FailoverStorage(stores, writer_id="not a valid id", replicate=False)
    with pytest.raises(ConfigError, match="twice"):
        FailoverStorage([MemoryStore("a"), MemoryStore("a")], replicate=False)


def test_mirror_quorum_defaults_to_two_of_several_and_one_of_one() -> None:
    with FailoverStorage([MemoryStore("a"), MemoryStore("b"), MemoryStore("c")], mode="mirror") as three:
        assert three.write_quorum == 2
    with FailoverStorage([MemoryStore("a")], mode="mirror") as one:
        assert one.write_quorum == 1


def test_journal_path_is_shared_and_left_open_for_a_journal_object(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=path, replicate=False) as storage:
        storage.put("k", b"v")
    with SqliteJournal(path) as journal:
        assert journal.backlog() == {"b": 1}, "the journal at the given path did not keep the pending copy"
        with FailoverStorage([MemoryStore("a"), MemoryStore("b")], journal=journal, replicate=False) as storage:
            assert storage.journal is journal
        assert journal.backlog() == {"b": 1}, "a journal passed in was closed by the storage"


def test_close_closes_the_stores_and_keeps_its_own_journal() -> None:
    closed: list[str] = []

    class Closing(MemoryStore):
        def close(self) -> None:
            closed.append(self.name)

    storage = FailoverStorage([Closing("a"), Closing("b")])
    journal_path = Path(storage.journal.path)  # type: ignore[attr-defined]
    assert storage.replicator.running
    storage.close()
    storage.close()  # idempotent
    assert closed == ["a", "b"]
    assert not storage.replicator.running
    assert journal_path.is_file(), "close() deleted the default journal (and any backlog in it)"


def test_from_config_builds_each_kind_of_adapter_in_order() -> None:
    config = parse_config(
        FailoverConfig,
        {
            "stores": [
                {"kind": "s3", "bucket": "orders", "endpoint_url": "http://127.0.0.1:9"},
                {"kind": "gcs", "bucket": "orders", "endpoint_url": "http://127.0.0.1:9", "anonymous": True},
                {
                    "kind": "azure_blob",
                    "container": "orders",
                    "connection_string": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                    "AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
                },
            ]
        },
    )
    with FailoverStorage.from_config(config, replicate=False, settings=SETTINGS) as storage:
        assert storage.name == "failover:aws:s3:orders+gcp:gcs:orders+azure:blob:orders"
        assert [type(store).__name__ for store in storage.stores.values()] == ["S3Store", "GcsStore", "AzureBlobStore"]


def test_from_config_without_storage_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="stores"):
        FailoverStorage.from_config(FailoverConfig())


def test_a_wrapped_store_keeps_its_name_and_counts_calls() -> None:
    inner = MemoryStore("inner")
    faulty = FaultyStore(inner)
    faulty.put("k", b"v")
    faulty.fail(refused(), "get_bytes", times=1)
    with pytest.raises(FailoverError):
        faulty.get_bytes("k")
    assert faulty.get_bytes("k") == b"v"
    assert (faulty.name, faulty.calls["put"], faulty.calls["get_bytes"], faulty.failures["get_bytes"]) == (
        "inner",
        1,
        2,
        1,
    )


def test_fail_takes_the_error_first() -> None:
    with pytest.raises(TypeError, match="error first"):
        FaultyStore(MemoryStore("m")).fail("put")  # type: ignore[arg-type]


def test_drain_pauses_the_background_replicator_and_reports_progress() -> None:
    progress: list[tuple[int, int, str]] = []
    storage = FailoverStorage(
        [MemoryStore("a"), MemoryStore("b")],
        settings=SETTINGS,
        on_progress=lambda done, left, store: progress.append((done, left, store)),
    )
    try:
        storage.replicator.stop()  # so that only drain() copies, and the counts are exact
        for n in range(3):
            storage.put(f"k{n}", b"v")
        storage.replicator.start()
        storage.drain(timeout=10)
        assert storage.replicator.running, "drain() left the background replicator stopped"
        assert storage.journal.backlog() == {}
        assert progress[-1][1:] == (0, "b"), f"the last progress report was {progress[-1]}"
    finally:
        storage.close()

"""The scenario benchmarks run end to end at their quick size and write results with the fields the reports need.

The scripts start together, each in its own process with its own emulators, all writing into one
directory; each test waits for its own. Nothing here judges speed: values are checked for shape and
sanity, never against a wall-clock threshold. The README's summary table is checked against the
committed results (no emulator needed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import summary
from tests.benchmark_runs import WAIT_SECONDS, QuickRun, positive
from tests.benchmark_runs import quick_runs as start

SCENARIOS = ("brownout", "replication_lag", "drain", "queues", "retry_load", "scale", "peers")
PNG = b"\x89PNG\r\n\x1a\n"


class ScenarioRun(QuickRun):
    def results(self, name: str) -> dict[str, Any]:
        """The JSON the run wrote, with the fields every scenario's report needs."""
        data = super().results(name)
        assert data["benchmark"] == name
        assert data["quick"] is True
        assert data["environment"]["cpu_count"] >= 1
        for headline in data["headlines"]:
            assert headline["scenario"], headline
            assert headline["figure"], headline
            assert headline["measured"], headline
            assert headline["met"] in (True, False, None), headline
        assert (self.out / f"{name}.md").read_text().startswith("# ")
        return data


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, QuickRun]]:
    out = tmp_path_factory.mktemp("scenarios")
    with start(SCENARIOS, lambda name: out, ScenarioRun) as runs:
        yield runs


def _ordered(spread: dict[str, float | None], *names: str) -> bool:
    values = [spread[name] for name in names]
    return all(isinstance(v, int | float) for v in values) and values == sorted(values)  # type: ignore[type-var]


pytestmark = pytest.mark.emulator


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_brownout_quick_measures_latency_spread_and_hedges_of_every_contender(quick_runs: dict[str, QuickRun]) -> None:
    run = quick_runs["brownout"]
    data = run.results("brownout")
    for label, by_contender in data["results"].items():
        assert set(by_contender) == set(data["parameters"]["contenders"]), label
        for name, entry in by_contender.items():
            assert entry["reads"] > 0, f"{label} {name}: {entry}"
            assert entry["errors"] == 0, f"{label} {name}: {entry}"
            assert _ordered(entry["latency_ms"], "p50", "p99", "p99.9", "max"), entry["latency_ms"]
            assert entry["hedges"] >= 0, entry
            assert entry["http_requests_per_read"] >= 1, entry
        assert by_contender["no hedging"]["hedges"] == 0
    assert (run.out / "brownout.png").read_bytes()[:8] == PNG


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_replication_lag_quick_measures_every_copy_on_each_other_store(quick_runs: dict[str, QuickRun]) -> None:
    data = quick_runs["replication_lag"].results("replication_lag")
    for entry in data["results"]:
        assert positive(entry["rate_reached"]), entry
        assert entry["puts_acknowledged"] > 0, entry
        assert len(entry["stores"]) == 2, entry["stores"].keys()
        for store in entry["stores"].values():
            assert store["not_copied_at_settle"] == 0, store
            assert len(store["lags_s"]) == entry["puts_acknowledged"]
            assert _ordered(store, "p50_s", "p99_s", "max_s"), store
            assert store["p50_s"] > 0


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_drain_quick_measures_replicator_and_loop_rates_per_object_size(quick_runs: dict[str, QuickRun]) -> None:
    data = quick_runs["drain"].results("drain")
    assert [entry["object_size"] for entry in data["results"]] == [size for size, _ in data["parameters"]["batches"]]
    for entry in data["results"]:
        assert positive(entry["replicator_objects_per_s"]), entry
        assert positive(entry["loop_objects_per_s"]), entry
        assert positive(entry["ratio"]), entry


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_queues_quick_counts_sent_delivered_lost_and_repeated(quick_runs: dict[str, QuickRun]) -> None:
    data = quick_runs["queues"].results("queues")
    parameters = data["parameters"]
    assert len(data["runs"]) == len(parameters["scenarios"]) * len(parameters["contenders"])
    for entry in data["runs"]:
        assert entry["acknowledged"] + entry["send_errors"] <= entry["sends_attempted"], entry
        assert entry["delivered"] + entry["lost"] >= entry["acknowledged"], entry
        assert entry["lost"] >= 0, entry
        assert entry["delivered_twice"] >= 0, entry
        if entry["contender"] == "FailoverQueue + dedup":
            assert entry["delivered_twice"] == 0, entry  # the dedup window's job
            assert entry["lost"] == 0, entry


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_retry_load_quick_compares_fault_rate_with_healthy_rate(quick_runs: dict[str, QuickRun]) -> None:
    data = quick_runs["retry_load"].results("retry_load")
    assert {entry["fault"] for entry in data["runs"]} == set(data["parameters"]["faults"])
    for entry in data["runs"]:
        assert positive(entry["healthy_requests_per_s"]), entry
        assert entry["fault_requests_per_s"] >= 0, entry
        assert entry["ratio"] is not None, entry
        assert entry["operations"]["fault"] > 0, entry


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_scale_quick_measures_costs_by_store_count_ratios_and_memory_peaks(quick_runs: dict[str, QuickRun]) -> None:
    data = quick_runs["scale"].results("scale")
    counts = [str(n) for n in data["parameters"]["store_counts"]]
    for operation, by_count in data["per_call_us"].items():
        assert list(by_count) == counts, operation
        assert all(positive(value) for value in by_count.values()), by_count
    assert {(e["operation"], e["object_size"]) for e in data["throughput"]} == {
        (op, size) for op in ("put", "get") for size, _ in data["parameters"]["objects"]
    }
    assert all(positive(e["ratio"]) for e in data["throughput"]), data["throughput"]
    for entry in data["memory"]:
        # Growth of the process's peak resident size: zero when the transfer reused memory already held.
        assert entry["put_peak_mib"] >= 0, entry
        assert entry["get_peak_mib"] >= 0, entry
        assert entry["stored_on"].startswith("aws:s3:"), entry
        assert entry["failovers"] == [], entry


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_peers_quick_runs_multi_storage_client_beside_the_baselines(quick_runs: dict[str, QuickRun]) -> None:
    run = quick_runs["peers"]
    data = run.results("peers")
    contenders = {entry["contender"] for entry in data["runs"]}
    assert contenders == set(data["parameters"]["contenders"])
    assert any(name.startswith("multi-storage-client") for name in contenders)
    for entry in data["runs"]:
        assert entry["operations_measured"] > data["parameters"]["fault_at"], entry["contender"]
    assert (run.out / "peers.png").read_bytes()[:8] == PNG


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_summary_lists_every_scenario_of_a_results_directory(quick_runs: dict[str, QuickRun]) -> None:
    for name, run in quick_runs.items():
        run.results(name)
    table = summary.render(next(iter(quick_runs.values())).out)
    for name in ("brownout", "replication lag", "drain after failback", "queues", "retry load", "scale", "peers"):
        assert f"| {name}" in table, name
    assert "smoke size" in table


def test_readme_summary_is_in_step_with_the_committed_results() -> None:
    assert summary.main(["--check"]) == 0, "run python -m benchmarks.summary"

"""The benchmarks run end to end at their quick size and write results with the fields the reports need.

The scripts start together, each in its own process with its own emulators, and each test waits for
its own. Nothing here judges speed: the values are checked for shape and sanity, never against a
wall-clock threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from tests.benchmark_runs import WAIT_SECONDS, QuickRun, positive
from tests.benchmark_runs import quick_runs as start

pytestmark = pytest.mark.emulator

BENCHMARKS = ("overhead", "outage", "encryption", "compat")


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, QuickRun]]:
    out = tmp_path_factory.mktemp("benchmarks")
    with start(BENCHMARKS, lambda name: out / name) as runs:
        yield runs


def _check_environment(data: dict[str, Any], name: str) -> None:
    assert data["benchmark"] == name
    assert data["quick"] is True
    env = data["environment"]
    assert env["cpu_count"] >= 1, env
    assert env["python"].count(".") == 2, env["python"]
    assert {"boto3", "tenacity", "google-cloud-storage"} <= set(env["packages"]), env["packages"]
    assert env["date"][:2] == "20", env["date"]


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_overhead_quick_writes_per_call_costs_profiles_and_throughput_ratios(quick_runs: dict[str, QuickRun]) -> None:
    run = quick_runs["overhead"]
    data = run.results("overhead")
    _check_environment(data, "overhead")
    memory = data["memory_adapter"]
    for operation in ("get_bytes", "head", "put"):
        for contender, numbers in memory["per_call"][operation].items():
            assert positive(numbers["median_us"]), f"{operation} on {contender}: {numbers}"
            assert numbers["min_us"] <= numbers["median_us"] <= numbers["max_us"], numbers
        assert len(memory["added_us"][operation]) == 2, memory["added_us"]
        assert all(math.isfinite(value) for value in memory["added_us"][operation].values())
        top = memory["profiles"][operation]["top"]
        assert any(row["function"].startswith("failover/") for row in top), f"no failover function in {top}"
    throughput = data["moto_throughput"]
    baseline = throughput["baseline"]
    for operation in ("get", "put"):
        for threads in ("1", "8"):
            by_contender = throughput["results"][operation][threads]
            assert set(by_contender) == set(throughput["contenders"])
            assert by_contender[baseline]["ratio_to_raw"] == 1.0
            for contender, numbers in by_contender.items():
                assert positive(numbers["median_ops_per_s"]), f"{operation} x{threads} {contender}: {numbers}"
                assert positive(numbers["ratio_to_raw"]), f"{operation} x{threads} {contender}: {numbers}"
    markdown = (run.out / "overhead.md").read_text()
    assert "| get_bytes |" in markdown
    assert "Throughput on moto" in markdown


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_outage_quick_measures_every_contender_in_every_scenario(quick_runs: dict[str, QuickRun]) -> None:
    run = quick_runs["outage"]
    data = run.results("outage")
    _check_environment(data, "outage")
    parameters = data["parameters"]
    runs = {(entry["scenario"], entry["contender"]): entry for entry in data["runs"]}
    assert set(runs) == {(s, c) for s in parameters["scenarios"] for c in parameters["contenders"]}
    for (scenario, contender), entry in runs.items():
        where = f"{scenario} / {contender}"
        assert parameters["fault_at"] < entry["operations_measured"] <= parameters["operations"], where
        assert len(entry["timeline_ms"]) == entry["operations_measured"], where
        assert entry["fault_operations_measured"] == entry["operations_measured"] - parameters["fault_at"], where
        assert 0 <= entry["failed_during_fault"] <= entry["failed"] <= entry["operations_measured"], where
        if not entry["capped"]:
            assert entry["operations_measured"] == parameters["operations"], where
        for phase in ("all", "fault"):
            spread = entry["latency_ms"][phase]
            assert 0 < spread["p50"] <= spread["p99"] <= spread["max"], f"{where} {phase}: {spread}"
        assert entry["aws_calls_after_fault"] >= 0, where
        assert entry["total_s"] >= entry["fault_phase_s"] >= 0, where
    # Without a fallback every call fails while AWS is gone, and each failure reached AWS (the counters work).
    for scenario in ("refused", "dns"):
        bare = runs[(scenario, "boto3 defaults")]
        unfinished = 0 if bare["unfinished_at_cap"] is None else 1
        assert bare["failed_during_fault"] + unfinished == bare["fault_operations_measured"], bare["errors"]
        assert bare["aws_calls_after_fault"] >= bare["failed_during_fault"], bare["counters_after_fault"]
    assert (run.out / "outage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (run.out / "outage.md").read_text()
    assert all(f"**{scenario}**" in markdown for scenario in parameters["scenarios"])


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_encryption_quick_measures_cpu_rates_of_every_size_and_memory(quick_runs: dict[str, QuickRun]) -> None:
    run = quick_runs["encryption"]
    data = run.results("encryption")
    _check_environment(data, "encryption")
    for operation in ("encrypt", "decrypt", "sha256 (reference)"):
        assert positive(data["cpu"][operation]["median_mib_per_s"]), data["cpu"]
    sizes = [str(size) for size, _ in data["parameters"]["objects"]]
    for operation in ("put", "get"):
        assert list(data["rates"][operation]) == sizes
        for size in sizes:
            entry = data["rates"][operation][size]
            assert positive(entry["plain_mib_per_s"]), f"{operation} {size}: {entry}"
            assert positive(entry["encrypted_mib_per_s"]), f"{operation} {size}: {entry}"
            assert positive(entry["ratio"]), f"{operation} {size}: {entry}"
    for store, peaks in data["memory"].items():
        assert positive(peaks["put_peak_mib"]), f"{store}: {peaks}"
        assert positive(peaks["get_peak_mib"]), f"{store}: {peaks}"
    assert (run.out / "encryption.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## (b) put and get on moto's S3" in (run.out / "encryption.md").read_text()


@pytest.mark.timeout(WAIT_SECONDS + 20)
def test_compat_quick_measures_the_drop_in_against_failover_storage_and_boto3(quick_runs: dict[str, QuickRun]) -> None:
    run = quick_runs["compat"]
    data = run.results("compat")
    _check_environment(data, "compat")
    assert [row["operation"] for row in data["micro"]] == ["put_object", "get_object", "head_object"]
    for row in data["micro"]:
        for clock in ("wall", "cpu"):
            numbers = row[clock]
            for field in ("failover_storage_us", "dropin_us", "botocore_floor_us"):
                assert positive(numbers[field]), f"{row['operation']} {clock} {field}: {numbers}"
            assert math.isfinite(numbers["added_us"]), numbers
    rates = data["throughput"]
    for field in ("boto3_ops_per_s", "failover_storage_ops_per_s", "dropin_ops_per_s", "ratio", "storage_ratio"):
        assert positive(rates[field]), f"{field}: {rates}"
    where = rates["failover_storage_breakdown_per_put_get"]
    assert where["wall_ms"] >= where["journal_ms"] > 0, where
    assert where["wall_ms"] >= where["s3_adapter_ms"] > 0, where
    assert (run.out / "compat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## (b) Throughput on moto" in (run.out / "compat.md").read_text()

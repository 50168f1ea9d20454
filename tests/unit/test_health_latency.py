"""Latency statistics: the EWMA and the p95 of recent successes."""

from __future__ import annotations

import pytest

from failover.errors import ConfigError
from failover.health.latency import LatencyStats


def test_nothing_measured_means_no_ewma_and_no_p95() -> None:
    stats = LatencyStats()
    assert (stats.ewma, stats.p95) == (None, None)


def test_the_first_sample_is_the_ewma() -> None:
    stats = LatencyStats()
    stats.add(0.3)
    assert stats.ewma == 0.3


def test_the_ewma_moves_by_alpha_towards_each_sample() -> None:
    stats = LatencyStats(alpha=0.5)
    stats.add(0.1)
    stats.add(0.3)
    assert stats.ewma == pytest.approx(0.2)


def test_the_p95_is_the_nearest_rank_of_the_window() -> None:
    stats = LatencyStats(refresh_every=1)
    for millis in range(1, 101):
        stats.add(millis / 1000)
    assert stats.p95 == pytest.approx(0.095)


def test_the_p95_forgets_samples_older_than_the_window() -> None:
    stats = LatencyStats(window=10, refresh_every=1)
    for _ in range(10):
        stats.add(5.0)
    for _ in range(10):
        stats.add(0.01)
    assert stats.p95 == pytest.approx(0.01)


def test_the_p95_is_recomputed_only_every_few_samples() -> None:
    stats = LatencyStats(refresh_every=8)
    stats.add(0.01)
    assert stats.p95 == pytest.approx(0.01)
    for _ in range(7):
        stats.add(1.0)
    assert stats.p95 == pytest.approx(0.01)
    stats.add(1.0)
    assert stats.p95 == pytest.approx(1.0)


def test_reset_forgets_everything() -> None:
    stats = LatencyStats()
    stats.add(0.2)
    stats.reset()
    assert (stats.ewma, stats.p95, stats.count) == (None, None, 0)


@pytest.mark.parametrize("settings", [{"alpha": 0.0}, {"alpha": 1.5}, {"window": 0}])
def test_nonsense_latency_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        LatencyStats(**settings)  # type: ignore[arg-type]

"""The chaos schedule: seeded, counted in operations, one provider down at a time (two at most)."""

from __future__ import annotations

import pytest

from failover.testing.chaos import Step, plan
from failover.testing.chaos._schedule import FAULTS, PROVIDERS

SIZES = (200, 2000, 10_000)


def _outages(steps: list[Step]) -> list[tuple[str, int, int]]:
    """(provider, broken at, healed at) for each break, failing if one never heals."""
    open_: dict[str, int] = {}
    outages = []
    for step in steps:
        if step.action == "break":
            assert step.provider not in open_, f"{step}: {step.provider} is already broken"
            open_[step.provider] = step.at
        elif step.action == "heal":
            outages.append((step.provider, open_.pop(step.provider), step.at))
    assert not open_, f"never healed: {open_}"
    return outages


def test_one_seed_gives_one_schedule_and_another_seed_another() -> None:
    assert plan(7, 2000) == plan(7, 2000)
    assert plan(7, 2000) != plan(8, 2000)


@pytest.mark.parametrize("ops", SIZES)
def test_never_more_than_two_providers_are_broken_at_once(ops: int) -> None:
    for seed in range(30):
        broken: set[str] = set()
        for step in plan(seed, ops):
            if step.action == "break":
                broken.add(step.provider)
            elif step.action == "heal":
                broken.discard(step.provider)
            assert len(broken) <= 2, f"seed {seed}: {sorted(broken)} broken at {step.at}"


@pytest.mark.parametrize("ops", SIZES)
def test_every_break_heals_inside_a_run_that_starts_and_ends_calm(ops: int) -> None:
    for seed in range(30):
        steps = plan(seed, ops)
        outages = _outages(steps)
        assert outages, f"seed {seed}: nothing broke"
        assert min(start for _, start, _ in outages) >= ops * 5 // 100
        assert max(end for _, _, end in outages) <= ops - ops * 12 // 100
        assert all(start < end for _, start, end in outages)


@pytest.mark.parametrize("ops", SIZES)
def test_the_replicator_is_killed_once_while_a_provider_is_broken(ops: int) -> None:
    for seed in range(30):
        steps = plan(seed, ops)
        kills = [step.at for step in steps if step.action == "restart"]
        assert len(kills) == 1, f"seed {seed}: {kills}"
        assert any(start <= kills[0] < end for _, start, end in _outages(steps)), f"seed {seed}: kill at {kills}"


def test_a_run_of_2000_operations_meets_every_provider_and_most_faults() -> None:
    for seed in range(30):
        outages = {(step.provider, step.fault) for step in plan(seed, 2000) if step.action == "break"}
        assert {provider for provider, _ in outages} == set(PROVIDERS), f"seed {seed}: {outages}"
        assert len(outages) >= sum(len(faults) for faults in FAULTS.values()) - 3, f"seed {seed}: {outages}"

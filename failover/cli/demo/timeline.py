"""The demo's timeline as a PNG: ops/s per endpoint, health state bands, and the journal backlog.

Drawn with matplotlib's Agg backend (no display needed), from the `Recorder` after the run.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from failover.cli.demo.metrics import BUCKET, Recorder
from failover.health import HealthState

__all__ = ["write_timeline"]

STATE_COLOR: Mapping[HealthState, str] = {
    HealthState.HEALTHY: "#2ca02c",
    HealthState.DEGRADED: "#f2c12e",
    HealthState.DOWN: "#d62728",
    HealthState.PROBING: "#ff7f0e",
}
RESOLUTION = 1.0  # seconds per point of the ops/s lines
OUTSIDE: Final[dict[str, Any]] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": "small"}


def _ops_per_second(slots: Mapping[int, int], end: float) -> tuple[list[float], list[float]]:
    per_point = round(RESOLUTION / BUCKET)
    points = int(end / RESOLUTION) + 1
    times = [(index + 0.5) * RESOLUTION for index in range(points)]
    rates = [
        sum(slots.get(index * per_point + offset, 0) for offset in range(per_point)) / RESOLUTION
        for index in range(points)
    ]
    return times, rates


def write_timeline(path: Path, recorder: Recorder, *, cut_at: float, restore_at: float, end: float) -> Path:
    """Draw the run into ``path`` (a PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    endpoints = list(recorder.endpoints.values())
    figure, (rates, bands, backlog) = plt.subplots(
        3, 1, figsize=(13, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]}
    )
    try:
        for axis in (rates, bands, backlog):
            axis.axvspan(cut_at, restore_at, color="#d62728", alpha=0.08)
            axis.axvline(cut_at, color="#d62728", linestyle=":", linewidth=1)
            axis.axvline(restore_at, color="#2ca02c", linestyle=":", linewidth=1)

        for record in endpoints:
            times, values = _ops_per_second(record.app_slots, end)
            style = "-" if record.kind == "storage" else "--"
            rates.plot(times, values, style, label=f"{record.label} ({record.kind})", linewidth=1.5)
        top = max(rates.get_ylim()[1], 1.0)
        label = {"va": "top", "fontsize": "small", "bbox": {"facecolor": "white", "alpha": 0.8, "edgecolor": "none"}}
        rates.text(cut_at, top * 0.97, " AWS cut off", color="#d62728", **label)
        rates.text(restore_at, top * 0.97, " restored", color="#2ca02c", **label)
        rates.set_ylabel("application ops/s")
        rates.set_title("failover demo: AWS cut off by DNS failure (shaded), then restored")
        rates.legend(**OUTSIDE)
        rates.grid(alpha=0.3)

        for row, record in enumerate(reversed(endpoints)):
            states = [*record.states, (end, record.state)]
            for (start, state), (stop, _) in itertools.pairwise(states):
                if stop > start:
                    bands.broken_barh([(start, stop - start)], (row - 0.35, 0.7), color=STATE_COLOR[state])
        bands.set_yticks(range(len(endpoints)), [record.label for record in reversed(endpoints)])
        bands.set_ylabel("health")
        bands.legend(
            handles=[Patch(color=color, label=state.value) for state, color in STATE_COLOR.items()],
            **OUTSIDE,
        )

        samples = recorder.backlog
        for record in endpoints:
            if record.kind != "storage":
                continue
            backlog.step(
                [at for at, _ in samples],
                [counts.get(record.name, 0) for _, counts in samples],
                where="post",
                label=record.label,
            )
        backlog.set_ylabel("journal backlog")
        backlog.set_xlabel("seconds since the application started")
        backlog.legend(**OUTSIDE)
        backlog.grid(alpha=0.3)
        backlog.set_xlim(0, end)

        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
    return path

"""The --plot PNG of `simulate`: makespan and SLA misses per setting, side by side.

matplotlib loads only when a plot is asked for, on its file-only backend (no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchestrator_dynamic.services.simulation.study import Outcome


def plot(outcomes: Sequence[Outcome], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [o.setting.label for o in outcomes]
    p50 = [(o.report.makespan_p50_ms or 0) / 60_000 for o in outcomes]
    p95 = [(o.report.makespan_p95_ms or 0) / 60_000 for o in outcomes]
    misses = [o.report.sla_violation_pct for o in outcomes]
    x = range(len(outcomes))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=80)
    width = 0.38
    left.bar([i - width / 2 for i in x], p50, width, label="p50")
    left.bar([i + width / 2 for i in x], p95, width, label="p95")
    left.set_title("Plan makespan (min)")
    left.legend(frameon=False)
    right.bar(list(x), misses, 0.6, color="tab:red")
    right.set_title("Plans with an SLA miss (%)")
    for axis in (left, right):
        axis.set_xticks(list(x), labels, rotation=20 if len(labels) > 3 else 0, fontsize=8)
        axis.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""The goals of `make bench` (issue 19) and what a run measured of them.

A benchmark records each goal it measures; `python -m bench` prints one summary table at the
end of the run and writes it to ``bench-summary.json``. A goal no benchmark recorded in the
run (its benchmark was not run, or failed) shows as "not measured".

To wire a benchmark in, call `record` once per goal, with the goal's name from `EXPECTED`
(the constants below) so it replaces that row; a name not listed there adds a row of its own::

    from bench import goals

    ratio = ours_p50 / floor_p50
    goals.record(goals.FLOW_ROOT_P50, f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5, value=ratio)

``measured`` and ``target`` are what the table shows (say the unit); ``value`` is the bare
number for the JSON file. Recording the same name twice keeps the last. Nothing else to do:
`__main__` imports this module, so the records of every benchmark of the run are collected.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

NOT_MEASURED = "not measured"

FLOW_ROOT_P50 = "Flow C 5-task: accepted -> root tickets p50 / floor"
FLOW_ROOT_P95 = "Flow C 5-task: accepted -> root tickets p95 / floor"
FLOW_COMPLETED_P50 = "Flow C 5-task: accepted -> completed p50 / floor"
FLOW_COMPLETED_P95 = "Flow C 5-task: accepted -> completed p95 / floor"
FLOW_PLANS_PER_S = "Flow C 5-task: floor plans/s / ours"
FLOW_LARGE_ROOT_P50 = "Flow C 100-task: accepted -> root tickets p50 / floor"
FLOW_LARGE_ROOT_P95 = "Flow C 100-task: accepted -> root tickets p95 / floor"
FLOW_LARGE_COMPLETED_P50 = "Flow C 100-task: accepted -> completed p50 / floor"
FLOW_LARGE_COMPLETED_P95 = "Flow C 100-task: accepted -> completed p95 / floor"
FLOW_LARGE_PLANS_PER_S = "Flow C 100-task: floor plans/s / ours"
POLICY_P95 = "Policy, embedded, 4 packages: p95 per ticket"
VALIDATOR_RATIO = "Policy through the validator: p95 / engine p95"
REDIS_ALLOCATION_P95 = "Allocation on Redis, 1,000 workers: p95"
INTAKE_LOCAL = "Intake, local bus: decisions/s / raw Temporal starts"
INTAKE_KAFKA = "Intake, Kafka bus: decisions/s / raw Temporal starts"
LARGE_PLAN = "Plan of 10,000 tasks completes"

# Every goal of issue 19, in the table's order, with its target as the table shows it.
EXPECTED: tuple[tuple[str, str], ...] = (
    (FLOW_ROOT_P50, "<= 1.5x"),
    (FLOW_ROOT_P95, "<= 1.5x"),
    (FLOW_COMPLETED_P50, "<= 1.5x"),
    (FLOW_COMPLETED_P95, "<= 1.5x"),
    (FLOW_PLANS_PER_S, "<= 1.5x"),
    (FLOW_LARGE_ROOT_P50, "<= 1.0x"),
    (FLOW_LARGE_ROOT_P95, "<= 1.0x"),
    (FLOW_LARGE_COMPLETED_P50, "<= 1.0x"),
    (FLOW_LARGE_COMPLETED_P95, "<= 1.0x"),
    (FLOW_LARGE_PLANS_PER_S, "<= 1.0x"),
    (POLICY_P95, "<= 100 us"),
    (VALIDATOR_RATIO, "<= 1.2x"),
    (REDIS_ALLOCATION_P95, "<= 1 ms"),
    (INTAKE_LOCAL, ">= 0.85x"),
    (INTAKE_KAFKA, ">= 0.85x"),
    (LARGE_PLAN, "completes"),
)


@dataclass(frozen=True)
class Goal:
    """One goal and what was measured of it; ``met`` is None when nothing was measured."""

    name: str
    measured: str
    target: str
    met: bool | None
    value: float | None = None

    @property
    def verdict(self) -> str:
        return "-" if self.met is None else "met" if self.met else "MISSED"


_recorded: dict[str, Goal] = {}


def record(name: str, measured: str, target: str, met: bool, value: float | None = None) -> Goal:
    """Record what this run measured of a goal (see the module docstring)."""
    goal = Goal(name, measured, target, met, value)
    _recorded[name] = goal
    return goal


def clear() -> None:
    """Forget what was recorded (a new run in the same process)."""
    _recorded.clear()


def summary() -> list[Goal]:
    """Every expected goal (recorded or "not measured"), then any other recorded goal."""
    names = {name for name, _ in EXPECTED}
    rows = [
        _recorded.get(name, Goal(name, NOT_MEASURED, target, None)) for name, target in EXPECTED
    ]
    return rows + [goal for name, goal in _recorded.items() if name not in names]


def table(rows: list[Goal]) -> str:
    """The summary as a plain-text table, with a closing count."""
    width = max(len(goal.name) for goal in rows)
    lines = [f"{'goal':<{width}}  {'measured':>14}  {'target':>10}  verdict"]
    lines += [f"{g.name:<{width}}  {g.measured:>14}  {g.target:>10}  {g.verdict}" for g in rows]
    met = sum(1 for g in rows if g.met)
    missed = sum(1 for g in rows if g.met is False)
    unmeasured = sum(1 for g in rows if g.met is None)
    lines.append(f"goals: {met} met, {missed} missed, {unmeasured} not measured")
    return "\n".join(lines)


def write_json(rows: list[Goal], path: Path) -> None:
    path.write_text(json.dumps([asdict(g) for g in rows], indent=2) + "\n", encoding="utf-8")

"""Several runs over the same inputs: one per setting of --compare or --sweep (or just one).

Every run sees the same plans, fleet file and dice (see behaviour.py), so the figures differ
only by the setting varied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from orchestrator_dynamic.services.simulation.behaviour import Behaviour
from orchestrator_dynamic.services.simulation.config import SimConfig, with_setting
from orchestrator_dynamic.services.simulation.engine import simulate
from orchestrator_dynamic.services.simulation.inputs import Plans, SimWorker
from orchestrator_dynamic.services.simulation.placement import LedgerFactory
from orchestrator_dynamic.services.simulation.report import SimReport


@dataclass(frozen=True)
class Setting:
    label: str  # "key=value", or "base" for a single run
    config: SimConfig


@dataclass(frozen=True)
class Outcome:
    setting: Setting
    report: SimReport


def settings_for(base: SimConfig, key: str | None, values: Sequence[str]) -> list[Setting]:
    if key is None:
        return [Setting("base", base)]
    return [Setting(f"{key}={v}", with_setting(base, key, v)) for v in values]


async def run_all(
    plans: Plans,
    workers: Sequence[SimWorker],
    behaviour: Behaviour,
    settings: Sequence[Setting],
    progress: Callable[[int], None] | None = None,
    *,
    ledger: LedgerFactory,
) -> list[Outcome]:
    out = []
    for setting in settings:
        report = await simulate(
            plans.arrivals, workers, behaviour, setting.config, progress, ledger=ledger
        )
        report = dataclasses.replace(report, dead_lettered=len(plans.dead_letters))
        out.append(Outcome(setting, report))
    return out


def best(outcomes: Sequence[Outcome]) -> Outcome:
    """Fewest plans with an SLA miss; then the lower p95 makespan; then the first given."""

    def key(item: tuple[int, Outcome]) -> tuple[int, int, int]:
        index, o = item
        p95 = o.report.makespan_p95_ms
        return (o.report.plans_sla_violated, p95 if p95 is not None else 2**62, index)

    return min(enumerate(outcomes), key=key)[1]

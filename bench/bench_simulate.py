"""What-if simulator speed: 10,000 generated plans of 5 tasks (a day of traffic) against a fleet
of 40 workers (capacity 8), durations and failures drawn from the ticket-history sample, with
the real C1-C5 code and scheduler. Goal (issue 20): under 30 s for the simulation.

Also shown, each in the same run: reading the plans file, and one run per placement policy on
the first 2,000 plans (the ratio between them is what counts on a loaded machine).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.services.simulation.behaviour import Behaviour
from orchestrator_dynamic.services.simulation.config import Placement, SimConfig
from orchestrator_dynamic.services.simulation.engine import simulate
from orchestrator_dynamic.services.simulation.inputs import load_history, load_plans
from orchestrator_dynamic.services.simulation.traffic import generate_day, generate_fleet

PLANS = 10_000
TASKS = 5
WORKERS = 40
CAPACITY = 8
GOAL_S = 30.0
HISTORY = Path(__file__).parent.parent / "tests" / "fixtures" / "ml" / "ticket-history-sample.jsonl"


async def main() -> None:
    from orchestrator_dynamic.services.simulation.inputs import load_workers

    with tempfile.TemporaryDirectory() as folder:
        plans_file, fleet_file = Path(folder) / "day.jsonl", Path(folder) / "fleet.json"
        started = time.perf_counter()
        with plans_file.open("w") as sink:
            for doc in generate_day(PLANS, TASKS, seed=1):
                sink.write(json.dumps(doc) + "\n")
        fleet_file.write_text(json.dumps(generate_fleet(WORKERS, capacity=CAPACITY)))
        generated = time.perf_counter() - started
        started = time.perf_counter()
        plans = load_plans(plans_file)
        fleet = load_workers(fleet_file)
        loaded = time.perf_counter() - started
    behaviour = Behaviour(load_history(HISTORY), seed=1)
    print(f"generate {PLANS} plans: {generated:.1f} s; read them: {loaded:.1f} s")
    started = time.perf_counter()
    report = await simulate(plans.arrivals, fleet, behaviour, ledger=MemoryCache)
    took = time.perf_counter() - started
    verdict = "meets" if took < GOAL_S else "MISSES"
    print(
        f"simulate {PLANS} plans x {TASKS} tasks, {WORKERS} workers x {CAPACITY}: {took:.1f} s "
        f"(goal < {GOAL_S:.0f} s: {verdict}; {PLANS / took:,.0f} plans/s); "
        f"{report.completed} completed, {report.plans_sla_violated} with an SLA miss, "
        f"utilisation {100 * report.utilisation:.0f} %"
    )
    subset = plans.arrivals[:2_000]
    for placement in Placement:
        started = time.perf_counter()
        await simulate(subset, fleet, behaviour, SimConfig(placement=placement), ledger=MemoryCache)
        print(f"  {placement.value:>12}: 2,000 plans in {time.perf_counter() - started:.2f} s")

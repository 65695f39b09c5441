"""Decisions and fleets for the simulator's tests, built from the traffic generator's shape."""

from __future__ import annotations

import json
import random
from typing import Any

from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry
from orchestrator_dynamic.services.simulation.inputs import PlanArrival, SimWorker
from orchestrator_dynamic.services.simulation.traffic import decision

T0 = 1_795_000_000_000
ALL_CAPS = frozenset({"code_generation", "testing", "validation", "deployment"})

Task = tuple[str, list[str], int]  # task id, dependencies, estimate ms


def plan_doc(index: int, tasks: list[Task], at: int = T0, band: str = "medium") -> dict[str, Any]:
    doc = decision(index, at, 1, random.Random(index))
    plan = json.loads(doc["cognitive_plan"])
    plan["risk_band"] = band
    plan["tasks"] = [
        {
            "task_id": task_id,
            "task_type": "EXECUTE",
            "description": task_id,
            "dependencies": deps,
            "estimated_duration_ms": estimate,
            "required_capabilities": ["code_generation"],
        }
        for task_id, deps, estimate in tasks
    ]
    plan["execution_order"] = [t[0] for t in tasks]
    doc["cognitive_plan"] = json.dumps(plan)
    return doc


def arrival(doc: dict[str, Any], at: int | None = None) -> PlanArrival:
    d = parse_decision(doc)
    return PlanArrival(d.created_at if at is None else at, d, 1)


def independent(index: int, count: int, estimate: int = 60_000, at: int = T0) -> PlanArrival:
    return arrival(plan_doc(index, [(f"t{i}", [], estimate) for i in range(count)], at), at)


def worker(
    worker_id: str,
    capacity: int = 10,
    health: Health = Health.HEALTHY,
    speed: float = 1.0,
    failure_rate: float | None = None,
    success_rate: float = 0.95,
) -> SimWorker:
    profile = WorkerProfile(
        worker_id=worker_id,
        capabilities=ALL_CAPS,
        health=health,
        max_concurrent_tasks=capacity,
        telemetry=WorkerTelemetry(success_rate, 0.7, 0.5),
    )
    return SimWorker(profile, speed, failure_rate)

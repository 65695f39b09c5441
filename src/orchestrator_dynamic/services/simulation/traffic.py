"""A day of generated traffic: decisions in the wire format (one JSON a line) and a fleet, so a
simulation can be reproduced without a production export.

Plans arrive as a Poisson process whose rate follows the working day (quiet at night, busiest
around 14:00 UTC); each is a random DAG of ``tasks`` tasks (each task depends on up to two
earlier ones), with task types, estimates and risk bands in the proportions of the shared ticket
history. The decision's ``created_at`` is its arrival time.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from orchestrator_dynamic.domain.decode import decision_hash
from orchestrator_dynamic.domain.model import ConsolidatedDecision

DAY_MS = 86_400_000
# (task type, capability, typical estimate ms, weight): estimates near the history's medians.
TASK_MIX: tuple[tuple[str, str, int, int], ...] = (
    ("BUILD", "code_generation", 240_000, 25),
    ("TEST", "testing", 170_000, 24),
    ("VALIDATE", "validation", 67_000, 16),
    ("DEPLOY", "deployment", 280_000, 15),
    ("EXECUTE", "code_generation", 105_000, 10),
    ("TRANSFORM", "code_generation", 115_000, 5),
    ("QUERY", "validation", 16_000, 5),
)
BAND_MIX: tuple[tuple[str, int], ...] = (
    ("low", 30),
    ("medium", 40),
    ("high", 20),
    ("critical", 10),
)
FLEET_PROFILES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("code_generation", "testing"), "INTERNAL"),
    (("deployment", "validation"), "RESTRICTED"),
    (("testing", "validation"), "CONFIDENTIAL"),
    (("code_generation", "deployment", "testing", "validation"), "RESTRICTED"),
)


def _rate(t_ms: float) -> float:
    """Relative arrival rate over the day: 0.2 at 02:00, 1.0 at 14:00."""
    hour = (t_ms % DAY_MS) / 3_600_000
    return 0.6 - 0.4 * math.cos((hour - 2) / 24 * 2 * math.pi)


def arrival_times(count: int, start_ms: int, rng: random.Random) -> list[int]:
    """``count`` arrivals over one day from ``start_ms``, by thinning a uniform draw."""
    out: list[int] = []
    while len(out) < count:
        t = rng.random() * DAY_MS
        if rng.random() < _rate(t):
            out.append(start_ms + int(t))
    return sorted(out)


def _plan(
    plan_id: str, intent: str, created: int, tasks: int, rng: random.Random
) -> dict[str, Any]:
    band = rng.choices([b for b, _ in BAND_MIX], [w for _, w in BAND_MIX])[0]
    nodes = []
    for i in range(tasks):
        kind, capability, estimate, _ = rng.choices(TASK_MIX, [m[3] for m in TASK_MIX])[0]
        deps = sorted(rng.sample(range(i), min(i, rng.randint(0, 2))))
        nodes.append(
            {
                "task_id": f"t{i + 1}",
                "task_type": kind,
                "description": f"{kind.lower()} step {i + 1}",
                "dependencies": [f"t{d + 1}" for d in deps],
                "estimated_duration_ms": int(estimate * rng.uniform(0.7, 1.3)),
                "required_capabilities": [capability],
                "parameters": {},
                "metadata": {},
            }
        )
    return {
        "plan_id": plan_id,
        "version": "1.0.0",
        "intent_id": intent,
        "tasks": nodes,
        "execution_order": [n["task_id"] for n in nodes],
        "risk_score": {"low": 0.2, "medium": 0.5, "high": 0.7, "critical": 0.9}[band],
        "risk_band": band,
        "risk_factors": {},
        "explainability_token": f"exp-{plan_id}",
        "reasoning_summary": "generated traffic",
        "status": "validated",
        "created_at": created,
        "valid_until": created + DAY_MS,
        "complexity_score": 0.5,
        "original_domain": "TECHNICAL",
        "original_priority": "normal",
        "original_security_level": "internal",
        "metadata": {},
    }


def decision(index: int, created: int, tasks: int, rng: random.Random) -> dict[str, Any]:
    """One approved decision in the wire format (``cognitive_plan`` as a JSON string)."""
    ident = f"{index:06d}"
    plan = _plan(f"plan-{ident}", f"intent-{ident}", created, tasks, rng)
    doc: dict[str, Any] = {
        "decision_id": f"dec-{ident}",
        "plan_id": plan["plan_id"],
        "intent_id": plan["intent_id"],
        "final_decision": "approve",
        "consensus_method": "bayesian",
        "aggregated_confidence": 0.9,
        "aggregated_risk": plan["risk_score"],
        "specialist_votes": [],
        "consensus_metrics": {
            "divergence_score": 0.1,
            "convergence_time_ms": 500,
            "unanimous": True,
            "fallback_used": False,
            "pheromone_strength": 0.5,
            "bayesian_confidence": 0.9,
            "voting_confidence": 0.9,
        },
        "explainability_token": f"exp-dec-{ident}",
        "reasoning_summary": "generated traffic",
        "compliance_checks": {},
        "guardrails_triggered": [],
        "cognitive_plan": json.dumps(plan, separators=(",", ":")),
        "requires_human_review": False,
        "created_at": created,
        "valid_until": created + DAY_MS,
        "metadata": {"source": "simulate generate"},
        "hash": "",
        "schema_version": 1,
    }
    doc["hash"] = decision_hash(ConsolidatedDecision.model_validate(doc))
    return doc


def generate_day(
    count: int, tasks: int = 5, seed: int = 0, start_ms: int = 1_795_000_000_000
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [decision(i, t, tasks, rng) for i, t in enumerate(arrival_times(count, start_ms, rng))]


def generate_fleet(count: int, capacity: int = 4) -> list[dict[str, Any]]:
    """Workers in the registry's shape, the demo agents' mix of capabilities and levels."""
    out = []
    for i in range(count):
        caps, level = FLEET_PROFILES[i % len(FLEET_PROFILES)]
        out.append(
            {
                "worker_id": f"worker-{i + 1:02d}",
                "capabilities": list(caps),
                "security_level": level,
                "max_concurrent_tasks": capacity,
                "health": "HEALTHY",
                "telemetry": {"success_rate": 0.95, "duration_score": 0.7, "experience": 0.5},
            }
        )
    return out

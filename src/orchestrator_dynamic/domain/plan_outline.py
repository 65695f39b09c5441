"""What an approver needs to see of a plan before any ticket exists: its tasks and its risk."""

from __future__ import annotations

from typing import Any

from orchestrator_dynamic.domain.decode import parse_decision, parse_plan
from orchestrator_dynamic.domain.errors import OrchestratorError


def plan_outline(decision: dict[str, Any]) -> dict[str, Any] | None:
    """Tasks (id, type, description, dependencies), risk and destructive flags of the decision's
    plan; None when the plan cannot be read (C1 says why, this only feeds a display)."""
    try:
        plan = parse_plan(parse_decision(decision))
    except (OrchestratorError, ValueError):
        return None
    destructive = set(plan.destructive_tasks)
    return {
        "risk_band": plan.risk_band.value,
        "risk_score": plan.risk_score,
        "is_destructive": plan.is_destructive,
        "requires_approval": plan.requires_approval,
        "tasks": [
            {
                "task_id": t.task_id,
                "task_type": t.task_type,
                "description": t.description,
                "dependencies": list(t.dependencies),
                "destructive": plan.is_destructive or t.task_id in destructive,
            }
            for t in plan.tasks
        ],
    }

"""Tickets and workflow results with chosen timings, for SLA tests."""

from __future__ import annotations

from typing import Any

from orchestrator_dynamic.domain.model import ExecutionTicket

T0 = 1_700_000_000_000  # created_at of every ticket; deadlines are T0 + 100 s
WINDOW_MS = 100_000


def ticket(
    ticket_id: str = "t-1",
    status: str = "RUNNING",
    *,
    started_at: int | None = None,
    completed_at: int | None = None,
    actual_duration_ms: int | None = None,
    error_message: str | None = None,
    workflow_id: str = "wf-1",
) -> ExecutionTicket:
    return ExecutionTicket.model_validate(
        {
            "ticket_id": ticket_id,
            "plan_id": "plan-1",
            "intent_id": "intent-1",
            "decision_id": workflow_id,
            "task_id": f"task-{ticket_id}",
            "task_type": "BUILD",
            "description": "build it",
            "status": status,
            "priority": "NORMAL",
            "risk_band": "medium",
            "sla": {"deadline": T0 + WINDOW_MS, "timeout_ms": WINDOW_MS, "max_retries": 2},
            "qos": {
                "delivery_mode": "AT_LEAST_ONCE",
                "consistency": "EVENTUAL",
                "durability": "PERSISTENT",
            },
            "security_level": "INTERNAL",
            "created_at": T0,
            "started_at": started_at,
            "completed_at": completed_at,
            "actual_duration_ms": actual_duration_ms,
            "error_message": error_message,
            "metadata": {"workflow_id": workflow_id},
        }
    )


def stored(t: ExecutionTicket, workflow_id: str, saved_at: int) -> dict[str, Any]:
    """The ticket as C4/C6 store it."""
    doc = t.model_dump(mode="json")
    doc.update(workflow_id=workflow_id, timestamp=saved_at)
    return doc


def result(workflow_id: str, status: str, at_ms: int, compliant: bool = True) -> dict[str, Any]:
    """A workflow result as C5 stores it (only the fields the budget reads, plus the key)."""
    return {
        "workflow_id": workflow_id,
        "status": status,
        "consolidated_at": at_ms,
        "sla_status": {"violations_count": 0 if compliant else 1, "compliant": compliant},
        "timestamp": at_ms,
    }

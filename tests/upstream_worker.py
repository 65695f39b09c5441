"""A stand-in for the platform's worker agent, at its two edges with us.

Its ticket checks are those of the upstream worker's ticket consumer (required fields, the task
type upper-cased among the eight it supports, status PENDING: anything else is skipped), and its
results have the shape of the upstream result producer (JSON; ``result`` with success, output,
metadata and logs, scalars as strings; ``timestamp`` in Unix epoch milliseconds; schema_version 2
with plan_id, workflow_id and correlation_id beside). Written from those facts, not copied.
"""

from __future__ import annotations

import time
from typing import Any

REQUIRED_FIELDS = ("ticket_id", "task_id", "task_type", "status", "dependencies")
SUPPORTED_TASK_TYPES = frozenset(
    {"BUILD", "DEPLOY", "TEST", "VALIDATE", "EXECUTE", "COMPENSATE", "QUERY", "TRANSFORM"}
)


def skip_reason(ticket: dict[str, Any]) -> str | None:
    """Why the upstream consumer would skip this ticket; None when it would run it."""
    missing = [f for f in REQUIRED_FIELDS if f not in ticket]
    if missing:
        return f"missing fields {missing}"
    task_type = str(ticket.get("task_type", "")).upper()
    if task_type not in SUPPORTED_TASK_TYPES:
        return f"unsupported task type {task_type!r}"
    if ticket.get("status") != "PENDING":
        return f"status {ticket.get('status')!r} is not PENDING"
    return None


def result_doc(
    ticket: dict[str, Any],
    status: str,
    *,
    agent_id: str | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    """A result as the upstream worker publishes it for ``ticket``."""
    success = status == "COMPLETED"
    result: dict[str, Any] = {
        "success": success,
        "output": {"artifact": f"{ticket['task_id']}.tar", "exit_code": "0"},
        "metadata": {"executor": f"{ticket['task_type'].title()}Executor"},
        "logs": [f"started {ticket['task_id']}", f"finished {ticket['task_id']}"],
    }
    if status in ("PREEMPTED", "CANCELLED"):  # what cancel_active_task sends
        reason = "preemption" if status == "PREEMPTED" else "user_request"
        result = {
            "success": False,
            "reason": reason,
            "preempted_by": None,
            "checkpoint_key": None,
            "output": {},
            "metadata": {},
            "logs": [],
        }
        error_message = error_message or f"Task {reason}"
    return {
        "ticket_id": ticket["ticket_id"],
        "status": status,
        "result": result,
        "error_message": error_message,
        "actual_duration_ms": 12 if success else None,
        "agent_id": agent_id or ticket.get("metadata", {}).get("worker_id", "worker"),
        "timestamp": int(time.time() * 1000),
        "schema_version": 2,
        "plan_id": ticket.get("plan_id"),
        "workflow_id": None,
        "correlation_id": ticket.get("correlation_id"),
    }

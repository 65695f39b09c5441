"""What a Flow C workflow is, as the rest of the service sees it: its status vocabulary, the view
its query answers, and what a submission became. The workflow-engine port (``domain.ports``)
speaks these; the Temporal adapter carries them as the workflow's query payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class WorkflowStatus(StrEnum):
    VALIDATING = "VALIDATING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    RUNNING = "RUNNING"
    COMPENSATING = "COMPENSATING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REFUSED = "REFUSED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = {
    WorkflowStatus.COMPLETED,
    WorkflowStatus.FAILED,
    WorkflowStatus.REFUSED,
    WorkflowStatus.REJECTED,
    WorkflowStatus.CANCELLED,
}


@dataclass
class IssueView:
    code: str
    message: str
    path: str = ""


@dataclass
class TicketView:
    ticket_id: str
    task_id: str
    task_type: str
    status: str
    worker_id: str | None
    started_at: int | None
    completed_at: int | None
    retry_count: int
    compensation_ticket_id: str | None
    deadline: int
    error_message: str | None = None
    # For the console (absent in older payloads): the DAG's edges, the SLA window's start, labels.
    dependencies: list[str] = field(default_factory=list)
    created_at: int | None = None
    description: str = ""
    estimated_duration_ms: int | None = None


@dataclass
class WorkflowView:
    """What `status` shows: answered by the workflow's query while it runs."""

    workflow_id: str
    status: WorkflowStatus
    step: str
    decision_id: str
    plan_id: str
    tickets: list[TicketView] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    issues: list[IssueView] = field(default_factory=list)
    approval: dict[str, Any] | None = None
    guardrails: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    # While the current step retries after a dependency outage: {"message": "waiting for bus
    # since …", "activity", "dependency", "error_type", "reason", "since_ms", "attempt"}.
    waiting: dict[str, Any] | None = None
    # For the console: the plan's risk band, and its outline (tasks, destructive ones) while no
    # ticket exists yet, so an approver sees the plan before C2 runs.
    risk_band: str = ""
    plan: dict[str, Any] | None = None


@dataclass(frozen=True)
class Submission:
    """What became of a submitted decision."""

    workflow_id: str
    disposition: str  # started | existing | skipped
    status: str

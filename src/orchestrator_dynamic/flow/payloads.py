"""One dataclass in and one out per workflow, activity, signal and query.

Adding a field with a default never breaks a running workflow; removing or renaming one does.
Serialised by the pydantic data converter, so domain models may travel inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    OrchestrationIncident,
    TelemetryEvent,
)
from orchestrator_dynamic.domain.task_types import DEFAULT_TASK_TYPE_ALIASES

WORKFLOW_NAME = "FlowC"


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
class FlowOptions:
    """Per-workflow knobs taken from settings when the workflow starts (so a restart of the
    service with new settings never changes a running workflow's behaviour)."""

    approval_timeout_s: float = 86_400.0
    max_in_flight: int = 100
    retry_initial_ms: int = 1_000
    retry_backoff: float = 2.0
    retry_max_ms: int = 60_000
    min_timeout_ms: int = 60_000
    timeout_buffer: float = 3.0
    default_timeout_ms: int = 60_000
    weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    # upstream task type -> ticket task type (TASK_TYPE_ALIASES); absent in older histories
    task_type_aliases: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_TASK_TYPE_ALIASES)
    )


@dataclass
class FlowInput:
    decision: dict[str, Any]
    options: FlowOptions = field(default_factory=FlowOptions)


@dataclass
class IssueView:
    code: str
    message: str
    path: str = ""


@dataclass
class ValidateInput:
    decision: dict[str, Any]
    workflow_id: str
    options: FlowOptions


@dataclass
class ValidateOutput:
    valid: bool
    issues: list[IssueView] = field(default_factory=list)
    needs_approval: bool = False
    approval_reason: str = ""
    guardrails: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class GenerateInput:
    decision: dict[str, Any]
    created_at_ms: int
    options: FlowOptions


# Allocation method of a ticket a policy refused at C3: the workflow fails it, never dispatches it.
POLICY_REFUSED = "policy_refused"


@dataclass
class AllocateInput:
    tickets: list[ExecutionTicket]
    now_ms: int
    approval: dict[str, Any] | None = None  # the human answer on record, for policies
    # The priority weights the workflow started with (FlowOptions.weights), so C3 scores as C2
    # and C4 do; None (histories from before the field) keeps the scheduler's configured ones.
    weights: tuple[float, float, float] | None = None


@dataclass
class AllocationView:
    ticket_id: str
    worker_id: str | None
    method: str
    priority_score: float
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class AllocateOutput:
    allocations: list[AllocationView]


@dataclass
class TicketRecord:
    """A ticket as stored, with the moments it changed status."""

    ticket: ExecutionTicket
    history: list[dict[str, Any]] = field(default_factory=list)
    # The worker's last result for the ticket: its output and logs are kept on the record.
    report: ExecutionResultPayload | None = None


@dataclass
class PublishInput:
    """C4: tickets to publish (exact content, decided by the workflow) and telemetry to emit."""

    workflow_id: str
    tickets: list[TicketRecord]
    telemetry: list[TelemetryEvent] = field(default_factory=list)


@dataclass
class TelemetryInput:
    workflow_id: str
    events: list[TelemetryEvent]
    tickets: list[TicketRecord] = field(default_factory=list)


@dataclass
class ConsolidateInput:
    workflow_id: str
    decision: dict[str, Any]
    status: WorkflowStatus
    tickets: list[ExecutionTicket]
    compensations: list[ExecutionTicket]
    timed_out: list[str]
    started_at_ms: int
    finished_at_ms: int
    reason: str = ""
    issues: list[IssueView] = field(default_factory=list)
    approval: dict[str, Any] | None = None
    guardrails: list[str] = field(default_factory=list)
    # Results refused because their agent_id was not the allocated worker.
    foreign_results: list[dict[str, str]] = field(default_factory=list)
    # The step that failed for good and why ("" when every step went through): named by the
    # incident.
    step_error: str = ""


@dataclass
class ConsolidateOutput:
    metrics: dict[str, Any]
    incident: OrchestrationIncident | None = None
    # The incident as published (the wire record plus worker_id and namespace when known).
    incident_doc: dict[str, Any] | None = None


@dataclass
class ResultSignal:
    result: ExecutionResult


@dataclass
class ApprovalSignal:
    approved: bool
    by: str
    reason: str = ""
    at_ms: int = 0


@dataclass
class CancelSignal:
    """Who cancels and why; sent just before the engine's cancellation request, which then
    finds the reason on record (the first one wins)."""

    reason: str = ""
    by: str = "operator"
    at_ms: int = 0


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


@dataclass
class FlowResult:
    workflow_id: str
    status: WorkflowStatus
    reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    incident_id: str | None = None

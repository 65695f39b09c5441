"""One dataclass in and one out per workflow, activity, signal and query.

Adding a field with a default never breaks a running workflow; removing or renaming one does.
Serialised by the pydantic data converter, so domain models may travel inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator_dynamic.domain.model import (
    ConsolidatedDecision,
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    OrchestrationIncident,
    TelemetryEvent,
)
from orchestrator_dynamic.domain.task_types import DEFAULT_TASK_TYPE_ALIASES

# The query's answer and the status vocabulary are the domain's (the workflow-engine port speaks
# them); re-exported here, where the workflow and its activities have always found them.
from orchestrator_dynamic.domain.workflows import TERMINAL as TERMINAL  # noqa: PLC0414
from orchestrator_dynamic.domain.workflows import IssueView as IssueView  # noqa: PLC0414
from orchestrator_dynamic.domain.workflows import TicketView as TicketView  # noqa: PLC0414
from orchestrator_dynamic.domain.workflows import WorkflowStatus as WorkflowStatus  # noqa: PLC0414
from orchestrator_dynamic.domain.workflows import WorkflowView as WorkflowView  # noqa: PLC0414

WORKFLOW_NAME = "FlowC"


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
    default_timeout_ms: int = 60_000  # read by nothing any more; recorded histories carry it
    weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    # upstream task type -> ticket task type (TASK_TYPE_ALIASES); absent in older histories
    task_type_aliases: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_TASK_TYPE_ALIASES)
    )
    # Large plans (flow/continuation.py): the run continues as new once its history grew by this
    # many events or bytes since it began; 0 (and histories from before the fields): never.
    continue_as_new_events: int = 0
    continue_as_new_bytes: int = 0


@dataclass
class StashRef:
    """A text kept in the store in chunks (Collection.FLOW_STASH) because it is too large for a
    workflow payload: a large plan's decision or tickets, or the state a run continues with."""

    key: str
    chunks: int


@dataclass
class StashDrop:
    """Stashes a finished workflow no longer needs: these, and every chunk it owns."""

    refs: list[StashRef]
    owner: str = ""


@dataclass
class StashChunk:
    """One chunk of a stash: written (``text`` given) or read (answered with the text)."""

    key: str
    index: int
    text: str = ""
    # The workflow id the chunk belongs to: a write of a workflow task the engine then refused
    # is in no history, and is found by its owner when the workflow drops its stashes.
    owner: str = ""


# The decision travels typed. On the wire it is the model's JSON, exactly the dict that inputs
# recorded before carried, so recorded histories and activities already queued decode into it.


@dataclass
class FlowInput:
    decision: ConsolidatedDecision
    options: FlowOptions = field(default_factory=FlowOptions)
    # Set (a decision too large for a payload): ``decision`` is the decision without its
    # cognitive plan, the whole of it is in the stash, and C1/C2 read it there.
    decision_ref: StashRef | None = None
    # Set: this run continues an earlier one (continue-as-new); its state is in the stash.
    resume: StashRef | None = None


@dataclass
class ValidateInput:
    decision: ConsolidatedDecision
    workflow_id: str
    options: FlowOptions
    # Set: a valid plan that needs no approval has its tickets generated (C2) in the same step,
    # created at this moment (the workflow's clock). None (older histories): C1 only.
    generate_at_ms: int | None = None
    decision_ref: StashRef | None = None  # FlowInput.decision_ref
    # Set: the tickets ready at once (the roots) are allocated and published in this step too
    # (C3+C4), as the workflow's first dispatch would: its clock, weights, id and telemetry;
    # the step fills in the batch (flow/dispatch_record.py first_dispatch). None (older
    # histories, a large plan): the workflow dispatches them in a step of its own.
    first_dispatch: AllocateInput | None = None


@dataclass
class ValidateOutput:
    valid: bool
    issues: list[IssueView] = field(default_factory=list)
    needs_approval: bool = False
    approval_reason: str = ""
    guardrails: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tickets: list[ExecutionTicket] | None = None  # C2's tickets when generated in this step
    # A large plan's C2 tickets, stashed instead of carried (``tickets`` is then None).
    tickets_ref: StashRef | None = None
    # C3's answer for ValidateInput.first_dispatch's batch, published in this step.
    first_dispatch: AllocateOutput | None = None


@dataclass
class GenerateInput:
    decision: ConsolidatedDecision
    created_at_ms: int
    options: FlowOptions
    decision_ref: StashRef | None = None  # FlowInput.decision_ref


# Allocation method of a ticket a policy refused at C3: the workflow fails it, never dispatches it.
POLICY_REFUSED = "policy_refused"
# Every worker able to run the ticket is at capacity: it is not dispatched, C3 runs again later.
WAIT_FOR_CAPACITY = "wait_for_capacity"


@dataclass
class AllocateInput:
    tickets: list[ExecutionTicket]
    now_ms: int
    approval: dict[str, Any] | None = None  # the human answer on record, for policies
    # The priority weights the workflow started with (FlowOptions.weights), so C3 scores as C2
    # and C4 do; None (histories from before the field) keeps the scheduler's configured ones.
    weights: tuple[float, float, float] | None = None
    # Per ticket, how many history entries it had before this dispatch: the key of this
    # attempt. Given (C4 runs as a local activity in the same workflow task), C3 answers an
    # attempt already published with the allocation on record, so a workflow task retried after
    # the publish sends the same bytes again. None (older histories): C3 always allocates.
    dispatch_counts: dict[str, int] | None = None
    # Set: C4 follows in the same step for this workflow, publishing each allocated ticket as
    # the workflow will record it (ExecutionState.dispatch, then history_entry), with the
    # tickets' histories so far and the telemetry waiting to go out. "" (older histories): C3
    # only, the workflow publishes in a step of its own.
    workflow_id: str = ""
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    telemetry: list[TelemetryEvent] = field(default_factory=list)


def history_entry(
    status: str, at_ms: int, event: str, detail: str, worker_id: str | None
) -> dict[str, Any]:
    """One line of a ticket's history: the workflow writes it, C3+C4 writes the dispatch's."""
    return {
        "status": status,
        "at": at_ms,
        "event": event,
        "detail": detail,
        "worker_id": worker_id,
    }


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
    # A large plan's set-aside ticket metadata (flow/carried.py settle), put back on
    # the records before they are saved.
    sidecars: list[StashRef] = field(default_factory=list)


@dataclass
class ConsolidateInput:
    workflow_id: str
    decision: ConsolidatedDecision  # without its cognitive_plan: C5 needs only the ids
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
class FlowResult:
    workflow_id: str
    status: WorkflowStatus
    reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    incident_id: str | None = None

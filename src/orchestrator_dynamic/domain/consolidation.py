"""C5: what happened to a workflow's tickets, in numbers, and the incident when it failed."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass, field

from orchestrator_dynamic.domain.model import (
    ExecutionTicket,
    IncidentType,
    OrchestrationIncident,
    TicketStatus,
)

INCIDENT_NAMESPACE = uuid.UUID("0b8f6f0e-3c1d-5a7e-8f42-6d1c9e2a7b55")

PLAYBOOKS: dict[IncidentType, str] = {
    IncidentType.WORKER_FAILURE: "reassign-and-retry",
    IncidentType.TICKET_TIMEOUT: "investigate-slow-worker",
    IncidentType.SLA_VIOLATION: "review-sla-budget",
    IncidentType.INCONSISTENCY: "manual-reconciliation",
}


@dataclass(frozen=True)
class TicketOutcome:
    ticket_id: str
    task_id: str
    status: str
    duration_ms: int | None
    retries: int
    sla_violated: bool


@dataclass(frozen=True)
class Consolidation:
    """Per-ticket and total figures plus the consistency verdict of one workflow."""

    total_tickets: int
    completed: int
    failed: int
    compensated: int
    cancelled: int
    total_retries: int
    total_duration_ms: int
    sla_violations: int
    consistent: bool
    inconsistencies: list[str] = field(default_factory=list)
    tickets: list[TicketOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sla_violated(ticket: ExecutionTicket, timed_out: Collection[str] = ()) -> bool:
    """Finished after its deadline, or failed after its SLA timer fired (``timed_out``: the
    state machine's record of tickets with a timed-out attempt, never a worker's error text).
    A CANCELLED ticket was stopped, not late: it never violates."""
    if ticket.status is TicketStatus.CANCELLED:
        return False
    if ticket.completed_at is not None and ticket.completed_at > ticket.sla.deadline:
        return True
    return ticket.status is TicketStatus.FAILED and ticket.ticket_id in timed_out


def consolidate(
    tickets: list[ExecutionTicket],
    compensations: list[ExecutionTicket],
    started_at_ms: int,
    finished_at_ms: int,
    expect_success: bool,
    timed_out: Collection[str] = (),
) -> Consolidation:
    outcomes = [
        TicketOutcome(
            t.ticket_id,
            t.task_id,
            t.status.value,
            t.actual_duration_ms,
            t.retry_count,
            sla_violated(t, timed_out),
        )
        for t in [*tickets, *compensations]
    ]
    problems = _inconsistencies(tickets, compensations, expect_success)
    return Consolidation(
        total_tickets=len(tickets),
        completed=_count(tickets, TicketStatus.COMPLETED),
        failed=_count(tickets, TicketStatus.FAILED),
        compensated=_count(tickets, TicketStatus.COMPENSATED),
        cancelled=_count(tickets, TicketStatus.CANCELLED),
        total_retries=sum(t.retry_count for t in tickets),
        total_duration_ms=max(0, finished_at_ms - started_at_ms),
        sla_violations=sum(1 for o in outcomes if o.sla_violated),
        consistent=not problems,
        inconsistencies=problems,
        tickets=outcomes,
    )


def _count(tickets: list[ExecutionTicket], status: TicketStatus) -> int:
    return sum(1 for t in tickets if t.status is status)


def _inconsistencies(
    tickets: list[ExecutionTicket], compensations: list[ExecutionTicket], expect_success: bool
) -> list[str]:
    problems = [
        f"ticket {t.ticket_id} ({t.task_id}) ended {t.status.value}"
        for t in tickets
        if t.status in (TicketStatus.RUNNING, TicketStatus.COMPENSATING)
    ]
    problems += [
        f"compensation {c.ticket_id} for {c.metadata.get('compensates', '?')} ended {c.status.value}"
        for c in compensations
        if c.status is not TicketStatus.COMPLETED
    ]
    if expect_success and any(t.status is not TicketStatus.COMPLETED for t in tickets):
        problems.append("workflow reported success with unfinished tickets")
    return problems


def incident_for(
    workflow_id: str,
    tickets: list[ExecutionTicket],
    consolidation: Consolidation,
    timed_out: set[str],
    correlation_id: str | None,
    trace_id: str | None,
    now_ms: int,
    step_error: str = "",
) -> OrchestrationIncident:
    """The one incident a failed workflow raises; its type says what went wrong first. A step
    the orchestrator could not carry out (``step_error``) leaves the plan half done: an
    INCONSISTENCY, whose first detail names the error."""
    failed = [t for t in tickets if t.status is TicketStatus.FAILED]
    if step_error or not consolidation.consistent:
        kind = IncidentType.INCONSISTENCY
    elif any(t.ticket_id in timed_out for t in failed):
        kind = IncidentType.TICKET_TIMEOUT
    elif failed:
        kind = IncidentType.WORKER_FAILURE
    else:
        kind = IncidentType.SLA_VIOLATION
    details = [step_error] if step_error else []
    details += [f"{t.task_id}: {t.error_message or t.status.value}" for t in failed]
    details += consolidation.inconsistencies
    fields = {
        "incident_id": str(uuid.uuid5(INCIDENT_NAMESPACE, f"{workflow_id}:{kind.value}")),
        "workflow_id": workflow_id,
        "incident_type": kind,
        "severity": "critical" if kind is IncidentType.INCONSISTENCY else "high",
        "details": details,
        "affected_tickets": [t.ticket_id for t in failed],
        "correlation_id": correlation_id or "",
        "trace_id": trace_id or "",
        "recommended_playbook": PLAYBOOKS[kind],
        "auto_remediation_enabled": kind is not IncidentType.INCONSISTENCY,
        "escalation_required": kind is IncidentType.INCONSISTENCY,
        "created_at": now_ms,
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    return OrchestrationIncident(**fields, hash=digest)


def placement(ticket: ExecutionTicket) -> tuple[str | None, str | None]:
    """Where a ticket ran: its worker, and its namespace (the plan's, else the worker's as the
    scheduler recorded it in the allocation explanation). None for what is not known."""
    worker_id = ticket.metadata.get("worker_id") or None
    namespace = ticket.metadata.get("namespace") or ticket.parameters.get("namespace") or None
    if namespace is None and worker_id is not None:
        namespace = _worker_namespace(ticket.metadata.get("allocation_explanation"), worker_id)
    return worker_id, namespace


def incident_document(
    incident: OrchestrationIncident, tickets: list[ExecutionTicket]
) -> dict[str, object]:
    """The incident as published and stored: the wire record plus ``worker_id`` and
    ``namespace`` of the first affected ticket when known (the self-healing engine's playbooks
    key on them; the Avro record has no such fields, so they travel in the JSON form only)."""
    doc: dict[str, object] = incident.model_dump(mode="json")
    by_id = {t.ticket_id: t for t in tickets}
    affected = [by_id[tid] for tid in incident.affected_tickets if tid in by_id]
    worker_id, namespace = placement(affected[0]) if affected else (None, None)
    doc["worker_id"] = worker_id
    doc["namespace"] = namespace
    return doc


def _worker_namespace(explanation: str | None, worker_id: str) -> str | None:
    if not explanation:
        return None
    try:
        doc = json.loads(explanation)
    except json.JSONDecodeError:
        return None
    candidates = doc.get("candidates", []) if isinstance(doc, dict) else []
    for candidate in candidates:
        if isinstance(candidate, dict) and candidate.get("worker_id") == worker_id:
            found = candidate.get("namespace")
            return found if isinstance(found, str) and found else None
    return None

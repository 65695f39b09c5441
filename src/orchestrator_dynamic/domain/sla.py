"""SLA deadlines of tickets and workflows, and how long a violating ticket took. Pure functions.

A ticket's SLA window runs from ``created_at`` to ``sla.deadline``. Its status is APPROACHING once
the share of the window consumed reaches the warning threshold (0.8 by default) and VIOLATED at
100 %. Error budgets and burn rates live in ``domain/sla_budget.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.scoring import deadline_consumed

FINISHED = frozenset({TicketStatus.COMPLETED, TicketStatus.FAILED, TicketStatus.COMPENSATED})


class DeadlineStatus(StrEnum):
    OK = "OK"
    APPROACHING = "APPROACHING"
    VIOLATED = "VIOLATED"


STATUS_RANK = {DeadlineStatus.OK: 0, DeadlineStatus.APPROACHING: 1, DeadlineStatus.VIOLATED: 2}


class DurationSource(StrEnum):
    """Where a violation's duration came from, most trustworthy first."""

    PERSISTED = "persisted"  # actual_duration_ms reported by the worker and stored
    CALCULATED = "calculated"  # completed_at - started_at
    ESTIMATED = "estimated"  # still running (or no timestamps): now - (started_at or created_at)


class ViolationType(StrEnum):
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    TIMEOUT = "TIMEOUT"


@dataclass(frozen=True)
class DeadlineCheck:
    """One ticket's position in its SLA window at ``now_ms``."""

    ticket_id: str
    workflow_id: str
    remaining_ms: int
    consumed: float
    status: DeadlineStatus

    @property
    def critical(self) -> bool:
        """Over the warning threshold (or past the deadline): the roll-up counts it as critical."""
        return self.status is not DeadlineStatus.OK


def check_deadline(
    ticket: ExecutionTicket, now_ms: int, warning_threshold: float = 0.8, workflow_id: str = ""
) -> DeadlineCheck:
    """Remaining time and share consumed; a finished ticket is judged at its completion time."""
    at = ticket.completed_at if ticket.completed_at is not None else now_ms
    consumed = deadline_consumed(ticket.created_at, ticket.sla.deadline, at)
    if consumed >= 1.0:
        status = DeadlineStatus.VIOLATED
    elif consumed >= warning_threshold:
        status = DeadlineStatus.APPROACHING
    else:
        status = DeadlineStatus.OK
    wf = workflow_id or ticket.metadata.get("workflow_id", "")
    return DeadlineCheck(ticket.ticket_id, wf, ticket.sla.deadline - at, consumed, status)


@dataclass(frozen=True)
class WorkflowDeadline:
    """Roll-up of one workflow's tickets: the worst status, the nearest deadline, the critical ones."""

    workflow_id: str
    tickets_checked: int
    critical_tickets: tuple[str, ...]
    nearest_remaining_ms: int | None
    max_consumed: float
    status: DeadlineStatus

    @property
    def at_risk(self) -> bool:
        return self.status is not DeadlineStatus.OK


def roll_up(workflow_id: str, checks: Iterable[DeadlineCheck]) -> WorkflowDeadline:
    items = list(checks)
    worst = max((c.status for c in items), key=STATUS_RANK.__getitem__, default=DeadlineStatus.OK)
    return WorkflowDeadline(
        workflow_id=workflow_id,
        tickets_checked=len(items),
        critical_tickets=tuple(c.ticket_id for c in items if c.critical),
        nearest_remaining_ms=min((c.remaining_ms for c in items), default=None),
        max_consumed=max((c.consumed for c in items), default=0.0),
        status=worst,
    )


# ---------------------------------------------------------------- violations


@dataclass(frozen=True)
class Violation:
    """A ticket that missed its SLA: what kind, how long it took, and how we know."""

    ticket_id: str
    workflow_id: str
    violation_type: ViolationType
    duration_ms: int
    duration_source: DurationSource
    deadline_ms: int
    overrun_ms: int


def violation_duration(ticket: ExecutionTicket, now_ms: int) -> tuple[int, DurationSource]:
    """Prefer what the worker reported, then the stored timestamps, then an estimate."""
    if ticket.actual_duration_ms is not None:
        return ticket.actual_duration_ms, DurationSource.PERSISTED
    if ticket.started_at is not None and ticket.completed_at is not None:
        return max(0, ticket.completed_at - ticket.started_at), DurationSource.CALCULATED
    start = ticket.started_at if ticket.started_at is not None else ticket.created_at
    end = ticket.completed_at if ticket.completed_at is not None else now_ms
    return max(0, end - start), DurationSource.ESTIMATED


def timed_out(ticket: ExecutionTicket) -> bool:
    """The workflow fails a ticket whose SLA timer fired with an error saying so."""
    return ticket.status is TicketStatus.FAILED and "timed out" in (ticket.error_message or "")


def find_violation(ticket: ExecutionTicket, now_ms: int, workflow_id: str = "") -> Violation | None:
    """TIMEOUT when the ticket was failed by its timer; DEADLINE_EXCEEDED when it finished late
    or is still open past its deadline; None when the SLA held (so far)."""
    if timed_out(ticket):
        kind = ViolationType.TIMEOUT
        end = ticket.completed_at if ticket.completed_at is not None else now_ms
    else:
        end = ticket.completed_at if ticket.completed_at is not None else now_ms
        if ticket.status in FINISHED and ticket.completed_at is None:
            return None  # finished without a completion time: nothing to judge by
        if end < ticket.sla.deadline:
            return None
        kind = ViolationType.DEADLINE_EXCEEDED
    duration, source = violation_duration(ticket, now_ms)
    return Violation(
        ticket_id=ticket.ticket_id,
        workflow_id=workflow_id or ticket.metadata.get("workflow_id", ""),
        violation_type=kind,
        duration_ms=duration,
        duration_source=source,
        deadline_ms=ticket.sla.deadline,
        overrun_ms=max(0, end - ticket.sla.deadline),
    )

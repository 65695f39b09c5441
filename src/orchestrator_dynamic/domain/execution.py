"""The dispatch state machine of C4, pure and deterministic so a Temporal workflow can drive it.

It decides which tickets are ready (every dependency COMPLETED, back-off elapsed, in-flight limit
respected, most urgent first), applies results, times attempts out by SLA, and retries with
back-off up to ``sla.max_retries``. When a ticket finally fails it halts: nothing new is
dispatched, in-flight tickets finish, and the caller may build a compensation plan.
The clock is always passed in (workflow time), never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator_dynamic.domain import dag
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionTicket,
    ResultStatus,
    TaskType,
    TicketStatus,
)
from orchestrator_dynamic.domain.scoring import (
    PriorityWeights,
    aging_bonus,
    deadline_consumed,
    priority_score,
)
from orchestrator_dynamic.domain.tickets import compensation_ticket_id


class TransitionKind(StrEnum):
    DISPATCHED = "DISPATCHED"
    COMPLETED = "COMPLETED"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Transition:
    """Something that happened to a ticket, for telemetry, metrics and the audit trail."""

    ticket_id: str
    kind: TransitionKind
    at_ms: int
    detail: str = ""
    worker_id: str | None = None


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1: initial x coefficient^(n-1), capped."""

    initial_ms: int = 1_000
    coefficient: float = 2.0
    max_ms: int = 60_000

    def delay_ms(self, retry_number: int) -> int:
        delay = self.initial_ms * self.coefficient ** max(0, retry_number - 1)
        return int(min(self.max_ms, delay))


@dataclass
class ExecutionState:
    """Tickets of one phase (the plan, or its compensation) and where each one stands."""

    tickets: dict[str, ExecutionTicket]
    max_in_flight: int = 100
    backoff: Backoff = field(default_factory=Backoff)
    weights: PriorityWeights = field(default_factory=PriorityWeights)
    aging_per_minute: float = 0.05
    ready_since: dict[str, int] = field(default_factory=dict)
    not_before: dict[str, int] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)
    halted: bool = False
    cancelled: bool = False

    @classmethod
    def of(cls, tickets: list[ExecutionTicket], **kwargs: object) -> ExecutionState:
        return cls({t.ticket_id: t for t in tickets}, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------ queries

    def status(self, ticket_id: str) -> TicketStatus:
        return self.tickets[ticket_id].status

    def in_flight(self) -> list[str]:
        return [tid for tid, t in self.tickets.items() if t.status is TicketStatus.RUNNING]

    def count(self, status: TicketStatus) -> int:
        return sum(1 for t in self.tickets.values() if t.status is status)

    def finished(self) -> bool:
        """Nothing running and nothing more will be dispatched."""
        if self.in_flight():
            return False
        if self.halted or self.cancelled:
            return True
        return all(t.status is not TicketStatus.PENDING for t in self.tickets.values())

    def succeeded(self) -> bool:
        return all(t.status is TicketStatus.COMPLETED for t in self.tickets.values())

    def _deps_done(self, ticket: ExecutionTicket) -> bool:
        return all(
            self.tickets[d].status is TicketStatus.COMPLETED
            for d in ticket.dependencies
            if d in self.tickets
        )

    def ready(self, now_ms: int) -> list[ExecutionTicket]:
        """Tickets to dispatch now: most urgent first, within the in-flight limit."""
        if self.halted or self.cancelled:
            return []
        room = self.max_in_flight - len(self.in_flight())
        if room <= 0:
            return []
        candidates = [
            t
            for t in self.tickets.values()
            if t.status is TicketStatus.PENDING
            and self.not_before.get(t.ticket_id, 0) <= now_ms
            and self._deps_done(t)
        ]
        for ticket in candidates:
            # Remember when each ticket first became ready: its wait earns it aging credit.
            self.ready_since.setdefault(ticket.ticket_id, now_ms)
        # Urgency is recomputed each time capacity frees, so work near its deadline goes first;
        # the stable sort keeps plan (topological) order among equals.
        candidates.sort(key=lambda t: -self.effective_priority(t, now_ms))
        return candidates[:room]

    def effective_priority(self, ticket: ExecutionTicket, now_ms: int) -> float:
        """Priority score at ``now_ms`` (SLA urgency included) plus aging for time spent ready."""
        waited = now_ms - self.ready_since.get(ticket.ticket_id, now_ms)
        return self._urgency(ticket, now_ms) + aging_bonus(waited, self.aging_per_minute)

    def _urgency(self, ticket: ExecutionTicket, now_ms: int) -> float:
        consumed = deadline_consumed(ticket.created_at, ticket.sla.deadline, now_ms)
        return priority_score(ticket.risk_band, ticket.qos, consumed, self.weights)

    def next_wakeup(self, now_ms: int) -> int | None:
        """The earliest moment something changes without a result: an SLA timeout or a back-off."""
        moments = [
            t.started_at + t.sla.timeout_ms
            for t in self.tickets.values()
            if t.status is TicketStatus.RUNNING and t.started_at is not None
        ]
        if not (self.halted or self.cancelled):
            moments += [
                at
                for tid, at in self.not_before.items()
                if at > now_ms and self.tickets[tid].status is TicketStatus.PENDING
            ]
        return min(moments, default=None)

    # ------------------------------------------------------------ commands

    def dispatch(
        self, ticket_id: str, now_ms: int, metadata: dict[str, str] | None = None
    ) -> ExecutionTicket:
        """Mark RUNNING with ``started_at``; returns the exact content to publish."""
        ticket = self.tickets[ticket_id]
        updated = ticket.model_copy(
            update={
                "status": TicketStatus.RUNNING,
                "started_at": now_ms,
                "completed_at": None,
                "metadata": {**ticket.metadata, **(metadata or {})},
            }
        )
        self.tickets[ticket_id] = updated
        self.not_before.pop(ticket_id, None)
        self.ready_since.pop(ticket_id, None)  # a retry waits (and ages) afresh
        return updated

    def refuse(self, ticket_id: str, now_ms: int, reason: str) -> Transition:
        """A policy refused the ticket before dispatch: it fails without retries (the same
        input would be refused again) and the plan halts, so the failure path compensates."""
        ticket = self.tickets[ticket_id]
        self.tickets[ticket_id] = ticket.model_copy(
            update={"status": TicketStatus.FAILED, "completed_at": now_ms, "error_message": reason}
        )
        self.not_before.pop(ticket_id, None)
        self.halted = True
        return Transition(ticket_id, TransitionKind.FAILED, now_ms, reason)

    def apply(self, result: ExecutionResult, now_ms: int) -> Transition | None:
        """Apply a worker's result; duplicates and results for idle tickets change nothing."""
        ticket = self.tickets.get(result.ticket_id)
        if ticket is None or ticket.status is not TicketStatus.RUNNING:
            return None
        if result.status is ResultStatus.RUNNING:
            return None
        if result.status is ResultStatus.COMPLETED and result.result.success:
            return self._complete(ticket, result, now_ms)
        reason = result.error_message or "the worker reported failure"
        return self._fail(ticket, now_ms, reason, TransitionKind.FAILED, result.agent_id)

    def expire(self, now_ms: int) -> list[Transition]:
        """Attempts past their SLA timeout count as failures (and may be retried)."""
        out = []
        for ticket in list(self.tickets.values()):
            if ticket.status is not TicketStatus.RUNNING or ticket.started_at is None:
                continue
            if now_ms >= ticket.started_at + ticket.sla.timeout_ms:
                self.timeouts[ticket.ticket_id] = self.timeouts.get(ticket.ticket_id, 0) + 1
                reason = f"timed out after {ticket.sla.timeout_ms} ms"
                out.append(self._fail(ticket, now_ms, reason, TransitionKind.TIMED_OUT, None))
        return out

    def cancel(self, now_ms: int, reason: str) -> list[ExecutionTicket]:
        """Stop everything; returns the tickets that were running (to tell their workers)."""
        self.cancelled = True
        stopped = []
        for ticket in list(self.tickets.values()):
            if ticket.status in (TicketStatus.RUNNING, TicketStatus.PENDING):
                was_running = ticket.status is TicketStatus.RUNNING
                updated = ticket.model_copy(
                    update={
                        "status": TicketStatus.FAILED,
                        "completed_at": now_ms,
                        "error_message": reason,
                    }
                )
                self.tickets[ticket.ticket_id] = updated
                if was_running:
                    stopped.append(updated)
        return stopped

    def _complete(
        self, ticket: ExecutionTicket, result: ExecutionResult, now_ms: int
    ) -> Transition:
        duration = result.actual_duration_ms
        if duration is None and ticket.started_at is not None:
            duration = now_ms - ticket.started_at
        self.tickets[ticket.ticket_id] = ticket.model_copy(
            update={
                "status": TicketStatus.COMPLETED,
                "completed_at": now_ms,
                "actual_duration_ms": duration,
                "error_message": None,
            }
        )
        return Transition(ticket.ticket_id, TransitionKind.COMPLETED, now_ms, "", result.agent_id)

    def _fail(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        reason: str,
        kind: TransitionKind,
        worker_id: str | None,
    ) -> Transition:
        if ticket.retry_count < ticket.sla.max_retries:
            retry = ticket.retry_count + 1
            self.tickets[ticket.ticket_id] = ticket.model_copy(
                update={
                    "status": TicketStatus.PENDING,
                    "retry_count": retry,
                    "error_message": reason,
                }
            )
            self.not_before[ticket.ticket_id] = now_ms + self.backoff.delay_ms(retry)
            detail = f"{kind.value.lower()}: {reason}; retry {retry}/{ticket.sla.max_retries}"
            return Transition(
                ticket.ticket_id, TransitionKind.RETRY_SCHEDULED, now_ms, detail, worker_id
            )
        self.tickets[ticket.ticket_id] = ticket.model_copy(
            update={"status": TicketStatus.FAILED, "completed_at": now_ms, "error_message": reason}
        )
        self.halted = True
        return Transition(ticket.ticket_id, kind, now_ms, reason, worker_id)


# ---------------------------------------------------------------- compensation (saga)


def compensation_tickets(state: ExecutionState, now_ms: int) -> list[ExecutionTicket]:
    """COMPENSATE tickets for every COMPLETED ticket, undone in reverse topological order:
    a ticket's compensation waits for the compensations of the completed tickets that
    depended on it. Marks the originals COMPENSATING and links them."""
    completed = {tid: t for tid, t in state.tickets.items() if t.status is TicketStatus.COMPLETED}
    graph = {tid: [d for d in t.dependencies if d in completed] for tid, t in completed.items()}
    dependants = dag.dependants_of(graph)
    out = []
    for tid in reversed(dag.topological_order(graph)):
        original = completed[tid]
        comp_id = compensation_ticket_id(tid)
        out.append(_compensation(original, comp_id, dependants[tid], now_ms))
        state.tickets[tid] = original.model_copy(
            update={"status": TicketStatus.COMPENSATING, "compensation_ticket_id": comp_id}
        )
    return out


def _compensation(
    original: ExecutionTicket, comp_id: str, after: list[str], now_ms: int
) -> ExecutionTicket:
    timeout = original.sla.timeout_ms
    return original.model_copy(
        update={
            "ticket_id": comp_id,
            "task_id": f"{original.task_id}:compensate",
            "task_type": TaskType.COMPENSATE,
            "description": f"Compensate {original.task_id}: {original.description}",
            "dependencies": [compensation_ticket_id(d) for d in after],
            "status": TicketStatus.PENDING,
            "sla": original.sla.model_copy(update={"deadline": now_ms + timeout}),
            "parameters": {**original.parameters, "compensates_ticket_id": original.ticket_id},
            "created_at": now_ms,
            "started_at": None,
            "completed_at": None,
            "actual_duration_ms": None,
            "retry_count": 0,
            "error_message": None,
            "compensation_ticket_id": None,
            "metadata": {**original.metadata, "compensates": original.ticket_id},
        }
    )


def settle_compensated(plan: ExecutionState, compensation: ExecutionState) -> None:
    """Originals whose compensation completed become COMPENSATED."""
    for tid, ticket in plan.tickets.items():
        comp = ticket.compensation_ticket_id
        done = comp is not None and comp in compensation.tickets
        if done and compensation.tickets[comp].status is TicketStatus.COMPLETED:  # type: ignore[index]
            plan.tickets[tid] = ticket.model_copy(update={"status": TicketStatus.COMPENSATED})

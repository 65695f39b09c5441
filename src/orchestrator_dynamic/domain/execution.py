"""The dispatch state machine of C4, pure and deterministic so a Temporal workflow can drive it.

It decides which tickets are ready (every dependency COMPLETED, back-off elapsed, in-flight limit
respected, most urgent first), applies results, times attempts out by SLA, and retries with
back-off up to ``sla.max_retries``. When a ticket finally fails it halts: nothing new is
dispatched, in-flight tickets finish, the tickets that never ran become CANCELLED, and the caller
may build a compensation plan. A preempted attempt is re-dispatched without consuming the retry
budget; a result from a worker the ticket is not allocated to is recorded, never applied.
The clock is always passed in (workflow time), never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator_dynamic.domain import dag
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
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

# Preemptions of one ticket that are re-dispatched for free; past this many a preemption counts
# as a failed attempt, so a worker that always gives the task up cannot keep a plan going round.
MAX_FREE_PREEMPTIONS = 10


class TransitionKind(StrEnum):
    DISPATCHED = "DISPATCHED"
    COMPLETED = "COMPLETED"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    PREEMPTED = "PREEMPTED"
    FOREIGN_RESULT = "FOREIGN_RESULT"


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


# A ticket whose able workers are all at capacity asks C3 again after this long (as
# ``not_before``); the workflow and the what-if simulator share it.
CAPACITY_WAIT_MS = 2_000


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
    # The last result applied to each ticket (its output and logs are kept on the record).
    reports: dict[str, ExecutionResultPayload] = field(default_factory=dict)
    preemptions: dict[str, int] = field(default_factory=dict)
    # Results refused because their agent_id is not the allocated worker, oldest first.
    foreign_results: list[dict[str, str]] = field(default_factory=list)

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
        """Apply a worker's result; duplicates and results for idle tickets change nothing.

        COMPLETED with success completes; PREEMPTED puts the attempt back in the queue at once
        with its retry budget untouched (the worker gave it up, it did not fail); CANCELLED,
        FAILED or an unsuccessful COMPLETED count as a failed attempt. A result whose agent_id is
        not the worker the ticket is allocated to (a stale attempt, a misrouted agent) is
        recorded as FOREIGN_RESULT and changes nothing else."""
        ticket = self.tickets.get(result.ticket_id)
        if ticket is None or ticket.status is not TicketStatus.RUNNING:
            return None
        if result.status is ResultStatus.RUNNING:
            return None
        owner = ticket.metadata.get("worker_id")
        if owner and result.agent_id != owner:
            return self._foreign(ticket, result, owner, now_ms)
        self.reports[ticket.ticket_id] = result.result
        if result.status is ResultStatus.COMPLETED and result.result.success:
            return self._complete(ticket, result, now_ms)
        if result.status is ResultStatus.PREEMPTED:
            return self._preempt(ticket, result, now_ms)
        default = "cancelled by the worker" if result.status is ResultStatus.CANCELLED else ""
        reason = result.error_message or default or "the worker reported failure"
        return self._fail(ticket, now_ms, reason, TransitionKind.FAILED, result.agent_id)

    def _foreign(
        self, ticket: ExecutionTicket, result: ExecutionResult, owner: str, now_ms: int
    ) -> Transition:
        self.foreign_results.append(
            {
                "ticket_id": ticket.ticket_id,
                "agent_id": result.agent_id,
                "allocated_worker_id": owner,
                "status": result.status.value,
            }
        )
        detail = (
            f"{result.status.value} result from {result.agent_id!r} ignored: "
            f"the ticket is allocated to {owner!r}"
        )
        return Transition(
            ticket.ticket_id, TransitionKind.FOREIGN_RESULT, now_ms, detail, result.agent_id
        )

    def _preempt(self, ticket: ExecutionTicket, result: ExecutionResult, now_ms: int) -> Transition:
        reason = result.error_message or "preempted by the worker"
        if self.preemptions.get(ticket.ticket_id, 0) >= MAX_FREE_PREEMPTIONS:
            detail = f"{reason} (preempted more than {MAX_FREE_PREEMPTIONS} times)"
            return self._fail(ticket, now_ms, detail, TransitionKind.FAILED, result.agent_id)
        self.tickets[ticket.ticket_id] = ticket.model_copy(
            update={"status": TicketStatus.PENDING, "error_message": reason}
        )
        self.not_before[ticket.ticket_id] = now_ms  # straight back into the queue
        count = self.preemptions.get(ticket.ticket_id, 0) + 1
        self.preemptions[ticket.ticket_id] = count
        detail = f"preempted: {reason}; re-dispatched without using a retry (preemption {count})"
        return Transition(
            ticket.ticket_id, TransitionKind.PREEMPTED, now_ms, detail, result.agent_id
        )

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
        """Stop everything: every unfinished ticket becomes CANCELLED (never FAILED: nothing
        failed). Returns the ones that were running, whose workers must be told to stop."""
        self.cancelled = True
        stopped = []
        for ticket in list(self.tickets.values()):
            if ticket.status is TicketStatus.RUNNING:
                update = {
                    "status": TicketStatus.CANCELLED,
                    "completed_at": now_ms,
                    "error_message": reason,
                }
                self.tickets[ticket.ticket_id] = updated = ticket.model_copy(update=update)
                stopped.append(updated)
        self.cancel_unrun(reason)
        return stopped

    def cancel_unrun(self, reason: str) -> list[str]:
        """Tickets still PENDING (never run, or waiting for a retry) become CANCELLED, so a
        stopped plan leaves nothing looking as if it might still run. Returns their ids."""
        out = []
        for ticket in list(self.tickets.values()):
            if ticket.status is TicketStatus.PENDING:
                update = {"status": TicketStatus.CANCELLED, "error_message": reason}
                self.tickets[ticket.ticket_id] = ticket.model_copy(update=update)
                self.not_before.pop(ticket.ticket_id, None)
                out.append(ticket.ticket_id)
        return out

    def timed_out(self) -> set[str]:
        """Tickets with at least one attempt failed by its SLA timer (this machine's record,
        not a guess from a worker's error text)."""
        return set(self.timeouts)

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

# What a worker's COMPENSATE executor does to undo a task, by the compensated task's type; the
# executor refuses a ticket whose ``parameters.action`` it does not know.
COMPENSATION_ACTIONS: dict[TaskType, str] = {
    TaskType.BUILD: "delete_artifacts",
    TaskType.DEPLOY: "rollback_deployment",
    TaskType.TEST: "cleanup_test_env",
    TaskType.VALIDATE: "revert_approval",
    TaskType.EXECUTE: "rollback_execution",
}
GENERIC_COMPENSATION = "generic_cleanup"
COMPENSATION_REASON = "task_failed"


def compensation_action(task_type: TaskType) -> str:
    return COMPENSATION_ACTIONS.get(task_type, GENERIC_COMPENSATION)


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
            # The original's parameters say what to undo (deployment_name, artifact_ids, ...);
            # action, reason and original_ticket_id are what the compensate executor reads.
            "parameters": {
                **original.parameters,
                "action": compensation_action(original.task_type),
                "reason": COMPENSATION_REASON,
                "original_ticket_id": original.ticket_id,
                "original_task_type": original.task_type.value,
                "compensates_ticket_id": original.ticket_id,
            },
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

"""What makes C3 sticky and C4 exact when both run in one step (the workflow's local activity):
the dispatch C4 publishes, built as the workflow records it, and the allocation a stored dispatch
was published with, so a retried workflow task sends the same bytes again."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from orchestrator_dynamic.domain.execution import Backoff, ExecutionState, TransitionKind
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.flow.payloads import (
    POLICY_REFUSED,
    WAIT_FOR_CAPACITY,
    AllocateInput,
    AllocateOutput,
    AllocationView,
    FlowOptions,
    PublishInput,
    TicketRecord,
    history_entry,
)

# On a stored dispatch: how many history entries the ticket had before it (the attempt's key).
DISPATCH_COUNT = "dispatch_count"
# The step a combined activity is in (C2 inside C1, C4 inside C3), so its retries, its waiting
# and its failure are named after that step; unset, the activity's own. Set and never reset:
# each activity runs in a context of its own, and the name must outlive a raised error.
ACTIVITY_PART: ContextVar[str | None] = ContextVar("flow_activity_part", default=None)


def plan_state(tickets: list[ExecutionTicket], options: FlowOptions) -> ExecutionState:
    """A plan's execution state as the workflow starts it. One function for the workflow and
    for C1's step, so both see the same first batch."""
    return ExecutionState.of(
        tickets,
        max_in_flight=options.max_in_flight,
        backoff=Backoff(options.retry_initial_ms, options.retry_backoff, options.retry_max_ms),
        weights=PriorityWeights(*options.weights),
    )


def state_weights(state: ExecutionState) -> tuple[float, float, float]:
    """The plan's priority weights as C3's input carries them (AllocateInput.weights)."""
    w = state.weights
    return (w.risk, w.qos, w.sla)


def first_dispatch(
    params: AllocateInput, tickets: list[ExecutionTicket], options: FlowOptions
) -> AllocateInput:
    """The plan's first C3+C4, exactly as the workflow's dispatch loop would ask for it at
    ``params.now_ms``: the tickets ready then, none dispatched before (no history yet), the
    workflow's weights and no approval (a plan needing one is not generated in C1's step)."""
    state = plan_state(tickets, options)
    batch = state.ready(params.now_ms)
    return replace(
        params,
        tickets=batch,
        approval=None,
        weights=state_weights(state),
        dispatch_counts={t.ticket_id: 0 for t in batch},
        histories={t.ticket_id: [] for t in batch},
    )


def dispatches(inp: AllocateInput, out: AllocateOutput) -> PublishInput:
    """C4's input as the workflow builds it from C3's answer: each allowed ticket dispatched by
    the same pure function the workflow records it with, history line included."""
    by_id = {t.ticket_id: t for t in inp.tickets}
    records = []
    for view in out.allocations:
        if view.method in (POLICY_REFUSED, WAIT_FOR_CAPACITY):
            continue  # never dispatched: refused, or asked again once a worker has room
        state = ExecutionState.of([by_id[view.ticket_id]])
        ticket = state.dispatch(view.ticket_id, inp.now_ms, view.metadata)
        kind = TransitionKind.DISPATCHED.value
        entry = history_entry(ticket.status.value, inp.now_ms, kind, view.method, view.worker_id)
        records.append(TicketRecord(ticket, [*inp.histories.get(view.ticket_id, []), entry]))
    return PublishInput(inp.workflow_id, records, inp.telemetry)


def recorded_view(ticket_id: str, doc: dict[str, Any]) -> AllocationView:
    """The allocation a stored dispatch was published with (its metadata holds all of it)."""
    metadata = {str(k): str(v) for k, v in (doc.get("metadata") or {}).items()}
    return AllocationView(
        ticket_id,
        doc.get("worker_id"),
        metadata.get("allocation_method", ""),
        float(metadata.get("priority_score", "0") or 0),
        metadata,
    )

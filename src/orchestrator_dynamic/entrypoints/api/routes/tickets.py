"""Tickets: details with the allocation explanation, and results from HTTP workers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from orchestrator_dynamic.domain.model import ExecutionResult
from orchestrator_dynamic.entrypoints.api.deps import OpsDep, ReadScope, ReporterDep, WorkerLimit
from orchestrator_dynamic.entrypoints.api.schemas import TicketDetail
from orchestrator_dynamic.entrypoints.api.security import Scope

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get("/{ticket_id}", response_model=TicketDetail, dependencies=[ReadScope])
async def get_ticket(ticket_id: str, ops: OpsDep) -> dict[str, Any]:
    """A ticket, its status history, why it went to its worker, and the policy decisions."""
    return await ops.ticket(ticket_id)


@router.post(
    "/{ticket_id}/result", status_code=status.HTTP_202_ACCEPTED, dependencies=[WorkerLimit]
)
async def report_result(
    ticket_id: str, result: ExecutionResult, ops: OpsDep, principal: ReporterDep
) -> dict[str, str]:
    """A worker agent reports a ticket's result over HTTP instead of the bus, in the shape the
    platform's workers publish (status COMPLETED, FAILED, RUNNING, PREEMPTED or CANCELLED).

    An admin token, or the `worker:<id>` token of the ticket's allocated worker (whose
    `agent_id` must be that id). `status` is `accepted` when the result went to the workflow,
    `ignored` when it cannot change anything (`disposition` says why: a progress report, a ticket
    already finished, a workflow already ended); a result whose agent_id is not the ticket's
    allocated worker is accepted and recorded on the ticket's history, never applied."""
    worker_id = principal.worker_id if principal.scope is Scope.WORKER else None
    outcome = await ops.report_result(ticket_id, result.model_dump(mode="json"), worker_id)
    return {
        "ticket_id": ticket_id,
        "status": "accepted" if outcome.disposition.applied else "ignored",
        "disposition": outcome.disposition.value,
        "detail": outcome.detail,
    }

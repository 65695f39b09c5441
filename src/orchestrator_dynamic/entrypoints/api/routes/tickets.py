"""Tickets: details with the allocation explanation, and results from HTTP workers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from orchestrator_dynamic.domain.model import ExecutionResult
from orchestrator_dynamic.entrypoints.api.deps import AdminScope, OpsDep, ReadScope
from orchestrator_dynamic.entrypoints.api.schemas import TicketDetail

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get("/{ticket_id}", response_model=TicketDetail, dependencies=[ReadScope])
async def get_ticket(ticket_id: str, ops: OpsDep) -> dict[str, Any]:
    """A ticket, its status history, why it went to its worker, and the policy decisions."""
    return await ops.ticket(ticket_id)


@router.post("/{ticket_id}/result", status_code=status.HTTP_202_ACCEPTED, dependencies=[AdminScope])
async def report_result(ticket_id: str, result: ExecutionResult, ops: OpsDep) -> dict[str, str]:
    """A worker agent reports a ticket's result over HTTP instead of the bus, in the shape the
    platform's workers publish (status COMPLETED, FAILED, RUNNING, PREEMPTED or CANCELLED). A
    result whose agent_id is not the ticket's allocated worker is accepted and recorded on the
    ticket's history, never applied."""
    await ops.report_result(ticket_id, result.model_dump(mode="json"))
    return {"ticket_id": ticket_id, "status": "accepted"}

"""Decisions in over HTTP: the same wire JSON as on plans.consensus."""

from __future__ import annotations

from fastapi import APIRouter, status

from orchestrator_dynamic.domain.model import ConsolidatedDecision
from orchestrator_dynamic.entrypoints.api.deps import AdminScope, DecisionLimit, OpsDep
from orchestrator_dynamic.entrypoints.api.schemas import SubmitAccepted

router = APIRouter(
    prefix="/decisions", tags=["decisions"], dependencies=[DecisionLimit, AdminScope]
)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=SubmitAccepted)
async def submit_decision(decision: ConsolidatedDecision, ops: OpsDep) -> SubmitAccepted:
    """Start Flow C for a decision; the same decision twice returns the same workflow."""
    submission = await ops.submit(decision)
    return SubmitAccepted(
        workflow_id=submission.workflow_id,
        disposition=submission.disposition,
        status=submission.status,
    )

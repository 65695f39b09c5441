"""Workflows: list, inspect, approve, reject, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from orchestrator_dynamic.entrypoints.api.deps import (
    AdminDep,
    OperatorLimit,
    OpsDep,
    PageDep,
    ReadScope,
    actor_of,
)
from orchestrator_dynamic.entrypoints.api.schemas import (
    CancelAccepted,
    Decide,
    WorkflowPublic,
    WorkflowSummary,
)

router = APIRouter(prefix="/workflows", tags=["workflows"])


@router.get("", response_model=list[WorkflowSummary], dependencies=[ReadScope])
async def list_workflows(
    ops: OpsDep,
    page: PageDep,
    status_: Annotated[str | None, Query(alias="status", pattern="^[A-Za-z_]+$")] = None,
    since: Annotated[datetime | None, Query(description="ISO-8601; newer workflows only")] = None,
) -> list[dict[str, Any]]:
    """Workflows newest first, optionally by status and start time."""
    since_ms = int(since.timestamp() * 1000) if since else None
    return await ops.workflows(status_, since_ms, page.limit, page.offset)


@router.get("/{workflow_id}", response_model=WorkflowPublic, dependencies=[ReadScope])
async def get_workflow(workflow_id: str, ops: OpsDep) -> dict[str, Any]:
    """Status, current step, tickets, SLA figures and incidents of one workflow."""
    return await ops.workflow(workflow_id)


@router.post(
    "/{workflow_id}/approve",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WorkflowPublic,
    dependencies=[OperatorLimit],
)
async def approve(
    workflow_id: str,
    ops: OpsDep,
    request: Request,
    principal: AdminDep,
    body: Decide | None = None,
) -> dict[str, Any]:
    """Let a workflow that waits for a human run (the body, and the reason in it, is optional)."""
    body = body or Decide()
    return await ops.approve(workflow_id, body.by, body.reason, actor_of(request, principal))


@router.post(
    "/{workflow_id}/reject",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WorkflowPublic,
    dependencies=[OperatorLimit],
)
async def reject(
    workflow_id: str,
    ops: OpsDep,
    request: Request,
    principal: AdminDep,
    body: Decide | None = None,
) -> dict[str, Any]:
    """End a workflow that waits for a human, without running it (the body is optional)."""
    body = body or Decide()
    return await ops.reject(workflow_id, body.by, body.reason, actor_of(request, principal))


@router.post(
    "/{workflow_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelAccepted,
    dependencies=[OperatorLimit],
)
async def cancel(
    workflow_id: str,
    ops: OpsDep,
    request: Request,
    principal: AdminDep,
    body: Decide | None = None,
) -> CancelAccepted:
    """Ask a running workflow to cancel; its outstanding tickets are cancelled too. The reason
    (optional) goes with the cancellation request to the workflow and into the decisions ledger."""
    body = body or Decide()
    view = await ops.cancel(workflow_id, body.by, body.reason, actor_of(request, principal))
    return CancelAccepted(
        workflow_id=workflow_id, status=view["status"], cancel_requested=True, reason=body.reason
    )

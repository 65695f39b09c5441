"""Incidents raised by failed workflows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orchestrator_dynamic.entrypoints.api.deps import OpsDep, PageDep, ReadScope

router = APIRouter(prefix="/incidents", tags=["incidents"], dependencies=[ReadScope])


@router.get("")
async def list_incidents(
    ops: OpsDep,
    page: PageDep,
    severity: Annotated[str | None, Query(max_length=32)] = None,
    workflow_id: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Incidents newest first, optionally by severity or workflow."""
    return await ops.incidents(severity, workflow_id, page.limit, page.offset)

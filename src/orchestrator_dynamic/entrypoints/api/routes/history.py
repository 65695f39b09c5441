"""History from the audit store: workflows, SLA violations, incidents, validations, tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from orchestrator_dynamic.entrypoints.api.deps import PageDep, ReadScope
from orchestrator_dynamic.services.store_queries import StoreQueries, Window

router = APIRouter(prefix="/history", tags=["history"], dependencies=[ReadScope])

Name = Annotated[str | None, Query(max_length=64, pattern="^[A-Za-z0-9_.:-]+$")]
Since = Annotated[datetime | None, Query(description="ISO-8601; records at or after it")]
Until = Annotated[datetime | None, Query(description="ISO-8601; records before it")]


def get_queries(request: Request) -> StoreQueries:
    return StoreQueries(request.app.state.services.store)


QueriesDep = Annotated[StoreQueries, Depends(get_queries)]


def _ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def window(page: PageDep, since: Since = None, until: Until = None) -> Window:
    return Window(_ms(since), _ms(until), page.limit, page.offset)


WindowDep = Annotated[Window, Depends(window)]


@router.get("/workflows")
async def workflows(q: QueriesDep, win: WindowDep, status: Name = None) -> list[dict[str, Any]]:
    """Consolidated workflows newest first, by status and time window."""
    return await q.workflows(status, win)


@router.get("/sla-violations")
async def sla_violations(q: QueriesDep, win: WindowDep) -> list[dict[str, Any]]:
    """Workflows that ended with at least one SLA violation, newest first."""
    return await q.sla_violating_workflows(win)


@router.get("/incidents")
async def incidents(q: QueriesDep, win: WindowDep, severity: Name = None) -> list[dict[str, Any]]:
    """Incidents newest first, by severity and time window."""
    return await q.incidents(severity, win)


@router.get("/validations/{plan_id}")
async def validations(plan_id: str, q: QueriesDep, win: WindowDep) -> list[dict[str, Any]]:
    """Every validation verdict recorded for one plan, newest first."""
    return await q.validations(plan_id, win)


@router.get("/tickets")
async def tickets(
    q: QueriesDep, win: WindowDep, task_type: Name = None, status: Name = None
) -> list[dict[str, Any]]:
    """Ticket history (status history, worker, durations) by task type, status and time."""
    return await q.ticket_history(task_type, status, win)

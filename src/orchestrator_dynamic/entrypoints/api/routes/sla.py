"""SLA: error budgets, burn rates and workflows at risk of missing their deadlines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from orchestrator_dynamic.entrypoints.api.deps import ReadScope, ServicesDep
from orchestrator_dynamic.services.sla_monitor import SlaMonitor

router = APIRouter(prefix="/sla", tags=["sla"], dependencies=[ReadScope])


class BudgetPublic(BaseModel):
    service_name: str
    slo_id: str
    target: float
    total_events: int
    bad_events: int
    budget_remaining_percent: float
    status: str
    burn_rates: dict[str, float]
    source: str


class AtRiskWorkflow(BaseModel):
    workflow_id: str
    status: str
    critical_tickets: list[str]
    tickets_checked: int
    nearest_remaining_ms: int | None
    max_consumed: float


class SlaOverview(BaseModel):
    service_name: str
    generated_at: int
    budgets: list[BudgetPublic]
    at_risk_workflows: list[AtRiskWorkflow]


def get_sla_monitor(services: ServicesDep) -> SlaMonitor:
    """The process's monitor; a process built without one answers 503."""
    monitor = getattr(services, "sla_monitor", None)
    if not isinstance(monitor, SlaMonitor):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "SLA monitoring is not running")
    return monitor


SlaMonitorDep = Annotated[SlaMonitor, Depends(get_sla_monitor)]


@router.get("/budgets", response_model=SlaOverview)
async def budgets(monitor: SlaMonitorDep) -> dict[str, Any]:
    """Error budgets with 1 h / 6 h / 24 h burn rates, and the workflows at risk."""
    return await monitor.overview()

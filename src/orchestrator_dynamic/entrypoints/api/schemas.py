"""Request and response bodies of the API (separate from the domain's wire models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SubmitAccepted(BaseModel):
    workflow_id: str
    disposition: str = Field(description="started, existing (same decision seen before) or skipped")
    status: str = Field(description="the workflow's status now, as GET /workflows/{id} shows it")


class Decide(BaseModel):
    by: str = Field(default="operator", min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2_000)


class CancelAccepted(BaseModel):
    workflow_id: str
    status: str = Field(description="the status when the request arrived; CANCELLED once it ends")
    cancel_requested: bool
    reason: str = ""


class WorkflowPublic(BaseModel):
    workflow_id: str
    status: str
    step: str
    decision_id: str | None = None
    plan_id: str | None = None
    tickets: list[dict[str, Any]] = []
    incidents: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    approval: dict[str, Any] | None = None
    guardrails: list[str] = []
    metrics: dict[str, Any] = {}
    reason: str = ""
    waiting: dict[str, Any] | None = Field(
        default=None,
        description='While the current step retries after a dependency outage: {"message": '
        '"waiting for <dependency> since <time>", "activity", "dependency", "error_type", '
        '"reason", "since_ms", "attempt"}',
    )


class WorkflowSummary(BaseModel):
    workflow_id: str
    plan_id: str | None = None
    status: str
    started_at: int | None = None
    consolidated_at: int | None = None
    sla_violations: int | None = None


class TicketDetail(BaseModel):
    ticket: dict[str, Any]
    history: list[dict[str, Any]]
    allocation: dict[str, Any] | None = None
    policy_decisions: list[dict[str, Any]] = []

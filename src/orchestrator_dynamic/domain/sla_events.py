"""The JSON events published to ``sla.alerts`` and ``sla.violations``, and their de-dup keys."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from orchestrator_dynamic.domain.sla import DeadlineCheck, Violation, ViolationType
from orchestrator_dynamic.domain.sla_budget import BurnRateAlert, ErrorBudget

EVENT_NAMESPACE = uuid.UUID("5c3a9d71-2b8e-5f04-9a6c-1e7d3b8f2a40")


class AlertType(StrEnum):
    BUDGET_CRITICAL = "BUDGET_CRITICAL"
    DEADLINE_APPROACHING = "DEADLINE_APPROACHING"
    BURN_RATE_HIGH = "BURN_RATE_HIGH"


class SlaAlert(BaseModel):
    """An early warning: something will miss its SLO unless someone acts."""

    event_type: Literal["ALERT"] = "ALERT"
    alert_id: str
    alert_type: AlertType
    severity: str
    service_name: str
    workflow_id: str | None = None
    ticket_id: str | None = None
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    timestamp: int

    @property
    def dedup_key(self) -> str:
        subject = self.ticket_id or self.workflow_id or self.service_name
        return f"sla:dedup:alert:{self.alert_type.value}:{subject}"


class SlaViolation(BaseModel):
    """A missed SLA, with how long the ticket took and where that figure came from."""

    event_type: Literal["VIOLATION"] = "VIOLATION"
    violation_id: str
    violation_type: ViolationType
    severity: str
    service_name: str
    workflow_id: str
    ticket_id: str
    duration_ms: int
    duration_source: str
    deadline: int
    overrun_ms: int
    timestamp: int

    @property
    def dedup_key(self) -> str:
        return f"sla:dedup:violation:{self.violation_type.value}:{self.ticket_id}"


def _id(*parts: object) -> str:
    # Stable per subject: a replica re-sending the same alert produces the same id.
    return str(uuid.uuid5(EVENT_NAMESPACE, ":".join(str(p) for p in parts)))


def deadline_alert(check: DeadlineCheck, service: str, now_ms: int) -> SlaAlert:
    return SlaAlert(
        alert_id=_id("deadline", check.ticket_id),
        alert_type=AlertType.DEADLINE_APPROACHING,
        severity="warning",
        service_name=service,
        workflow_id=check.workflow_id or None,
        ticket_id=check.ticket_id,
        message=f"ticket {check.ticket_id} has used {check.consumed:.0%} of its SLA window",
        details={"remaining_ms": check.remaining_ms, "consumed": round(check.consumed, 4)},
        timestamp=now_ms,
    )


def budget_alert(budget: ErrorBudget, now_ms: int) -> SlaAlert:
    return SlaAlert(
        alert_id=_id("budget", budget.slo_id, budget.status.value),
        alert_type=AlertType.BUDGET_CRITICAL,
        severity="critical",
        service_name=budget.service_name,
        message=(
            f"error budget of {budget.slo_id} at {budget.remaining_percent:.1f}% "
            f"({budget.status.value})"
        ),
        details=budget.as_dict(),
        timestamp=now_ms,
    )


def burn_alert(budget: ErrorBudget, alert: BurnRateAlert, now_ms: int) -> SlaAlert:
    return SlaAlert(
        alert_id=_id("burn", budget.slo_id, alert.window_hours),
        alert_type=AlertType.BURN_RATE_HIGH,
        severity=alert.severity,
        service_name=budget.service_name,
        message=(
            f"{budget.slo_id} burns its error budget {alert.burn_rate:.1f}x over "
            f"{alert.window_hours} h (threshold {alert.threshold}x)"
        ),
        details={
            "window_hours": alert.window_hours,
            "burn_rate": round(alert.burn_rate, 4),
            "threshold": alert.threshold,
        },
        timestamp=now_ms,
    )


def violation_event(violation: Violation, service: str, now_ms: int) -> SlaViolation:
    return SlaViolation(
        violation_id=_id("violation", violation.ticket_id, violation.violation_type.value),
        violation_type=violation.violation_type,
        severity="critical" if violation.violation_type is ViolationType.TIMEOUT else "high",
        service_name=service,
        workflow_id=violation.workflow_id,
        ticket_id=violation.ticket_id,
        duration_ms=violation.duration_ms,
        duration_source=violation.duration_source.value,
        deadline=violation.deadline_ms,
        overrun_ms=violation.overrun_ms,
        timestamp=now_ms,
    )

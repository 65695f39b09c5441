"""Error budgets and burn rates over the orchestrator's own workflow results. Pure functions.

An *event* is one finished workflow. It is bad when the workflow FAILED or finished with SLA
violations; REFUSED, REJECTED and CANCELLED workflows say nothing about our reliability and are
not counted. With SLO target ``t`` the budget allows a share ``1 - t`` of bad events:

    budget remaining = 1 - bad / (total * (1 - t))          (clamped to [0, 1]; 1 with no events)
    burn rate (window w) = (bad_w / total_w) / (1 - t)       (1.0 spends the budget exactly on time)

Multi-window burn-rate alerting follows the SRE workbook thresholds for a 30-day SLO: a window
alerts only while the next shorter window still burns too, so a spike that has stopped does not
page (see ``BurnRatePolicy``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

HOUR_MS = 3_600_000
# 1 - 0.99 is 0.010000000000000009 in binary floating point; rounding the ratios keeps a budget
# spent exactly to the last allowed failure EXHAUSTED instead of a hair above zero.
PRECISION = 9
BURN_WINDOWS_HOURS = (1, 6, 24)
COUNTED = frozenset({"COMPLETED", "FAILED"})


class BudgetStatus(StrEnum):
    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    EXHAUSTED = "EXHAUSTED"


# Numeric form for the orchestration_sla_budget_status gauge (higher is worse).
BUDGET_STATUS_VALUE = {
    BudgetStatus.HEALTHY: 0,
    BudgetStatus.WARNING: 1,
    BudgetStatus.CRITICAL: 2,
    BudgetStatus.EXHAUSTED: 3,
}


@dataclass(frozen=True)
class Outcome:
    """One finished workflow as the budget sees it."""

    at_ms: int
    good: bool


def outcome_of(result: Mapping[str, Any]) -> Outcome | None:
    """A stored workflow result as an event, or None when it does not count."""
    status = result.get("status")
    at = result.get("consolidated_at") or result.get("timestamp")
    if status not in COUNTED or not isinstance(at, int):
        return None
    sla = result.get("sla_status") or {}
    compliant = bool(sla.get("compliant", True)) if isinstance(sla, Mapping) else True
    return Outcome(at, status == "COMPLETED" and compliant)


@dataclass(frozen=True)
class BudgetPolicy:
    """SLO target per service (default for the rest), window, and status thresholds."""

    default_target: float = 0.99
    targets: Mapping[str, float] = field(default_factory=dict)
    window_ms: int = 30 * 24 * HOUR_MS
    critical_threshold: float = 0.2
    warning_threshold: float = 0.5

    def target_for(self, service: str) -> float:
        return self.targets.get(service, self.default_target)


def budget_status(remaining: float, policy: BudgetPolicy) -> BudgetStatus:
    if remaining <= 0.0:
        return BudgetStatus.EXHAUSTED
    if remaining < policy.critical_threshold:
        return BudgetStatus.CRITICAL
    if remaining < policy.warning_threshold:
        return BudgetStatus.WARNING
    return BudgetStatus.HEALTHY


def budget_remaining(total: int, bad: int, target: float) -> float:
    if total == 0:
        return 1.0
    allowed = total * (1.0 - target)
    return min(1.0, max(0.0, round(1.0 - bad / allowed, PRECISION)))


def burn_rate(outcomes: Iterable[Outcome], now_ms: int, hours: int, target: float) -> float:
    """Error rate over the last ``hours`` divided by the rate the SLO allows."""
    since = now_ms - hours * HOUR_MS
    window = [o for o in outcomes if since <= o.at_ms <= now_ms]
    if not window:
        return 0.0
    bad = sum(1 for o in window if not o.good)
    return round((bad / len(window)) / (1.0 - target), PRECISION)


@dataclass(frozen=True)
class BurnRateRule:
    window_hours: int
    threshold: float
    confirm_hours: int | None
    severity: str


@dataclass(frozen=True)
class BurnRatePolicy:
    """1 h at 14.4x spends 2 % of a 30-day budget; 6 h at 6x spends 5 %; 24 h at 3x spends 10 %."""

    rules: tuple[BurnRateRule, ...] = (
        BurnRateRule(1, 14.4, None, "critical"),
        BurnRateRule(6, 6.0, 1, "critical"),
        BurnRateRule(24, 3.0, 6, "warning"),
    )


@dataclass(frozen=True)
class BurnRateAlert:
    window_hours: int
    burn_rate: float
    threshold: float
    severity: str


def burn_rate_alert(
    rates: Mapping[int, float], policy: BurnRatePolicy = BurnRatePolicy()
) -> BurnRateAlert | None:
    """The first rule (most urgent first) whose window and confirming window both burn too fast."""
    for rule in policy.rules:
        rate = rates.get(rule.window_hours, 0.0)
        confirm = rates.get(rule.confirm_hours, 0.0) if rule.confirm_hours else rate
        if rate >= rule.threshold and confirm >= rule.threshold:
            return BurnRateAlert(rule.window_hours, rate, rule.threshold, rule.severity)
    return None


@dataclass(frozen=True)
class ErrorBudget:
    """A service's budget over its SLO window and its burn rates by window (hours)."""

    service_name: str
    slo_id: str
    target: float
    total: int
    bad: int
    remaining: float
    status: BudgetStatus
    burn_rates: Mapping[int, float]
    source: str = "workflow_results"

    @property
    def remaining_percent(self) -> float:
        return self.remaining * 100.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "service_name": self.service_name,
            "slo_id": self.slo_id,
            "target": self.target,
            "total_events": self.total,
            "bad_events": self.bad,
            "budget_remaining_percent": round(self.remaining_percent, 4),
            "status": self.status.value,
            "burn_rates": {str(h): round(r, 4) for h, r in sorted(self.burn_rates.items())},
            "source": self.source,
        }


def error_budget(
    service: str, outcomes: Iterable[Outcome], now_ms: int, policy: BudgetPolicy
) -> ErrorBudget:
    """Budget over ``policy.window_ms`` ending at ``now_ms``, with 1 h / 6 h / 24 h burn rates."""
    target = policy.target_for(service)
    window = [o for o in outcomes if now_ms - policy.window_ms <= o.at_ms <= now_ms]
    bad = sum(1 for o in window if not o.good)
    remaining = budget_remaining(len(window), bad, target)
    rates = {h: burn_rate(window, now_ms, h, target) for h in BURN_WINDOWS_HOURS}
    days = policy.window_ms // (24 * HOUR_MS)
    return ErrorBudget(
        service_name=service,
        slo_id=f"{service}-workflow-success-{days}d",
        target=target,
        total=len(window),
        bad=bad,
        remaining=remaining,
        status=budget_status(remaining, policy),
        burn_rates=rates,
    )

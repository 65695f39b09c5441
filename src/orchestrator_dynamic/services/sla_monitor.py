"""SLA monitoring: deadlines of open tickets, error budgets, alerts and violations on the bus.

Runs periodically (``run_forever``) and at proactive checkpoints of the flow (``checkpoint``,
called by C4 after publishing). Every alert and violation is de-duplicated through the cache
port (``add`` is an atomic set-if-absent), so replicas sharing one cache send each once per TTL.
The monitor fails open: an error is counted and logged, never raised into the flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from pydantic import ValidationError

from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import Cache, Collection, Publisher, Store
from orchestrator_dynamic.domain.sla import (
    FINISHED,
    DeadlineCheck,
    DeadlineStatus,
    WorkflowDeadline,
    check_deadline,
    find_violation,
    roll_up,
)
from orchestrator_dynamic.domain.sla_budget import (
    BUDGET_STATUS_VALUE,
    BudgetPolicy,
    BudgetStatus,
    BurnRatePolicy,
    ErrorBudget,
    burn_rate_alert,
    error_budget,
    outcome_of,
)
from orchestrator_dynamic.domain.sla_events import (
    SlaAlert,
    SlaViolation,
    budget_alert,
    burn_alert,
    deadline_alert,
    violation_event,
)
from orchestrator_dynamic.observability import metrics as flow_metrics
from orchestrator_dynamic.observability import sla_metrics as m

log = structlog.get_logger(__name__)

OPEN = (TicketStatus.PENDING.value, TicketStatus.RUNNING.value)
ENDED = (TicketStatus.COMPLETED.value, TicketStatus.FAILED.value)


class BudgetSource(Protocol):
    """An external source of error budgets (the SLA management API); None means unavailable."""

    async def budgets(self, service_name: str) -> list[ErrorBudget] | None: ...


@dataclass(frozen=True)
class SlaMonitorConfig:
    service_name: str = "orchestrator-dynamic"
    warning_threshold: float = 0.8
    budget: BudgetPolicy = field(default_factory=BudgetPolicy)
    burn: BurnRatePolicy = field(default_factory=BurnRatePolicy)
    dedup_ttl_s: float = 300.0
    interval_s: float = 30.0
    proactive: bool = True
    alerts_topic: str = "sla.alerts"
    violations_topic: str = "sla.violations"
    scan_limit: int = 1000
    # A violation is a fact about a ticket that does not change: report it once a day at most,
    # however short the alert TTL.
    violation_dedup_ttl_s: float = 86_400.0
    # The workflow fails a ticket at its deadline, so a ticket still open a day after it has no
    # live workflow (terminated by hand, lost history): not ours to report again and again.
    stale_after_ms: int = 86_400_000


@dataclass
class CheckReport:
    """What one check saw and sent."""

    workflows: list[WorkflowDeadline] = field(default_factory=list)
    alerts_sent: int = 0
    violations_sent: int = 0
    duplicates: int = 0

    def merge(self, other: CheckReport) -> None:
        self.workflows += other.workflows
        self.alerts_sent += other.alerts_sent
        self.violations_sent += other.violations_sent
        self.duplicates += other.duplicates


class SlaMonitor:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        cache: Cache,
        clock: Callable[[], int],
        config: SlaMonitorConfig = SlaMonitorConfig(),
        management: BudgetSource | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._cache = cache
        self._clock = clock
        self._config = config
        self._management = management
        self._service = config.service_name
        self._last_scan_ms: int | None = None

    # ---------------------------------------------------------------- tickets

    async def checkpoint(
        self, stage: str, workflow_id: str, tickets: Sequence[ExecutionTicket]
    ) -> CheckReport | None:
        """Proactive check from inside the flow; a no-op when disabled, never raises."""
        if not self._config.proactive or not tickets:
            return None
        try:
            return await self.check_tickets(workflow_id, tickets, f"proactive_{stage}")
        except Exception as exc:  # monitoring must never fail (or retry) a flow step
            _failed("checkpoint", exc)
            return None

    async def check_tickets(
        self, workflow_id: str, tickets: Sequence[ExecutionTicket], check_type: str = "tickets"
    ) -> CheckReport:
        """Deadline alerts for open tickets over the threshold, violations for missed SLAs."""
        if not workflow_id and tickets:  # C2 knows the workflow only through ticket metadata
            workflow_id = tickets[0].metadata.get("workflow_id", "")
        with m.CHECK_DURATION.labels(check_type).time():
            return await self._check(workflow_id, tickets)

    async def _check(self, workflow_id: str, tickets: Sequence[ExecutionTicket]) -> CheckReport:
        now = self._clock()
        threshold = self._config.warning_threshold
        checks = [check_deadline(t, now, threshold, workflow_id) for t in tickets]
        report = CheckReport(workflows=[roll_up(workflow_id, checks)])
        _observe_remaining(
            workflow_id,
            [c for t, c in zip(tickets, checks, strict=True) if t.status not in FINISHED],
        )
        for ticket, check in zip(tickets, checks, strict=True):
            if check.status is DeadlineStatus.APPROACHING and ticket.status not in FINISHED:
                sent = await self._alert(deadline_alert(check, self._service, now))
                flow_metrics.DEADLINE_APPROACHING.inc(sent.alerts_sent)
                report.merge(sent)
            violation = find_violation(ticket, now, workflow_id)
            if violation is not None:
                report.merge(await self._violation(violation_event(violation, self._service, now)))
        return report

    async def check_stored_tickets(self) -> CheckReport:
        """Periodic: open tickets, and tickets that ended since the previous scan."""
        with m.CHECK_DURATION.labels("periodic").time():
            now = self._clock()
            since = self._last_scan_ms or now - int(2 * self._config.interval_s * 1000)
            by_workflow = await self._load_tickets(since, now)
            report = CheckReport()
            for workflow_id, tickets in sorted(by_workflow.items()):
                report.merge(await self._check(workflow_id, tickets))
            self._last_scan_ms = now
            return report

    async def _load_tickets(
        self, ended_since_ms: int, now_ms: int
    ) -> dict[str, list[ExecutionTicket]]:
        limit = self._config.scan_limit
        docs: list[dict[str, Any]] = []
        for status in OPEN:
            docs += await self._store.find(Collection.TICKETS, {"status": status}, limit=limit)
        for status in ENDED:
            docs += await self._store.find(
                Collection.TICKETS, {"status": status}, since_ms=ended_since_ms, limit=limit
            )
        stale = self._config.stale_after_ms
        grouped: dict[str, list[ExecutionTicket]] = defaultdict(list)
        for doc in docs:
            try:
                ticket = ExecutionTicket.model_validate(doc)
            except ValidationError as exc:
                m.MONITOR_ERRORS.labels("bad_record").inc()
                log.warning("sla_bad_ticket_record", ticket_id=doc.get("ticket_id"), error=str(exc))
                continue
            if ticket.status.value in OPEN and ticket.sla.deadline < now_ms - stale:
                continue
            grouped[str(doc.get("workflow_id") or ticket.decision_id)].append(ticket)
        return grouped

    async def at_risk(self) -> list[WorkflowDeadline]:
        """Workflows whose open tickets are over the warning threshold; sends nothing."""
        now = self._clock()
        by_workflow = await self._load_tickets(now, now)
        threshold = self._config.warning_threshold
        rolled = [
            roll_up(wf, (check_deadline(t, now, threshold, wf) for t in tickets))
            for wf, tickets in by_workflow.items()
        ]
        risky = [r for r in rolled if r.at_risk]
        return sorted(risky, key=lambda r: r.max_consumed, reverse=True)

    # ---------------------------------------------------------------- budgets

    async def budgets(self) -> list[ErrorBudget]:
        """The external API's budgets when configured and up, else our own; gauges updated."""
        service = self._config.service_name
        found = await self._management.budgets(service) if self._management else None
        if not found:
            found = [await self._own_budget(service)]
        for budget in found:
            _observe_budget(budget)
        return found

    async def _own_budget(self, service: str) -> ErrorBudget:
        now = self._clock()
        since = now - self._config.budget.window_ms
        docs = await self._store.find(
            Collection.WORKFLOW_RESULTS, since_ms=since, limit=self._config.scan_limit * 10
        )
        outcomes = [o for o in map(outcome_of, docs) if o is not None]
        return error_budget(service, outcomes, now, self._config.budget)

    async def check_budgets(self) -> CheckReport:
        """BUDGET_CRITICAL when a budget is CRITICAL or EXHAUSTED; BURN_RATE_HIGH on fast burn."""
        with m.CHECK_DURATION.labels("budget").time():
            now = self._clock()
            report = CheckReport()
            for budget in await self.budgets():
                if budget.status in (BudgetStatus.CRITICAL, BudgetStatus.EXHAUSTED):
                    report.merge(await self._alert(budget_alert(budget, now)))
                burning = burn_rate_alert(budget.burn_rates, self._config.burn)
                if burning is not None:
                    report.merge(await self._alert(burn_alert(budget, burning, now)))
            return report

    async def overview(self) -> dict[str, Any]:
        """Budgets, burn rates and at-risk workflows for the API and CLI; sends nothing."""
        with m.CHECK_DURATION.labels("overview").time():
            budgets = await self.budgets()
            risky = await self.at_risk()
        return {
            "service_name": self._config.service_name,
            "generated_at": self._clock(),
            "budgets": [b.as_dict() for b in budgets],
            "at_risk_workflows": [_risk_view(r) for r in risky],
        }

    # ---------------------------------------------------------------- loop

    async def run_once(self) -> CheckReport:
        """One periodic round; each half fails open on its own."""
        report = CheckReport()
        for name, check in (
            ("periodic", self.check_stored_tickets),
            ("budget", self.check_budgets),
        ):
            try:
                report.merge(await check())
            except OrchestratorError as exc:
                _failed(name, exc)
        return report

    async def run_forever(self) -> None:
        """Check every SLA_CHECK_INTERVAL_SECONDS until cancelled."""
        while True:
            started = time.monotonic()
            await self.run_once()
            await asyncio.sleep(max(0.0, self._config.interval_s - (time.monotonic() - started)))

    # ---------------------------------------------------------------- sending

    async def _alert(self, alert: SlaAlert) -> CheckReport:
        ttl = self._config.dedup_ttl_s
        sent = await self._send(self._config.alerts_topic, alert.dedup_key, alert, ttl)
        if sent:
            m.ALERTS_SENT.labels(alert.alert_type.value, alert.severity).inc()
            return CheckReport(alerts_sent=1)
        return CheckReport(duplicates=1)

    async def _violation(self, event: SlaViolation) -> CheckReport:
        ttl = max(self._config.dedup_ttl_s, self._config.violation_dedup_ttl_s)
        sent = await self._send(self._config.violations_topic, event.dedup_key, event, ttl)
        if sent:
            m.VIOLATIONS_PUBLISHED.labels(event.violation_type.value).inc()
            return CheckReport(violations_sent=1)
        return CheckReport(duplicates=1)

    async def _send(
        self, topic: str, dedup_key: str, event: SlaAlert | SlaViolation, ttl_s: float
    ) -> bool:
        """Claim the de-dup key, then publish; a failed publish releases the key for a retry."""
        if not await self._claim(dedup_key, ttl_s):
            m.DEDUP_HITS.inc()
            return False
        try:
            await self._publisher.publish(
                topic, event.model_dump_json().encode(), key=event.workflow_id or dedup_key
            )
        except OrchestratorError:
            await self._release(dedup_key)
            raise
        log.info("sla_event_sent", topic=topic, key=dedup_key)
        return True

    async def _claim(self, key: str, ttl_s: float) -> bool:
        if self._config.dedup_ttl_s <= 0:
            return True  # de-duplication switched off (SLA_ALERT_DEDUPLICATION_TTL_SECONDS=0)
        try:
            return await self._cache.add(key, b"1", ttl_s)
        except OrchestratorError as exc:
            # A duplicate page is better than a lost one: send when the cache cannot tell.
            _failed("cache", exc)
            return True

    async def _release(self, key: str) -> None:
        try:
            await self._cache.delete(key)
        except OrchestratorError as exc:
            _failed("cache", exc)


def _observe_budget(budget: ErrorBudget) -> None:
    labels = (budget.service_name, budget.slo_id)
    m.BUDGET_REMAINING.labels(*labels).set(budget.remaining_percent)
    m.BUDGET_STATUS.labels(*labels).set(BUDGET_STATUS_VALUE[budget.status])
    for hours, rate in budget.burn_rates.items():
        m.BURN_RATE.labels(budget.service_name, str(hours)).set(rate)


def _risk_view(rolled: WorkflowDeadline) -> dict[str, Any]:
    return {
        "workflow_id": rolled.workflow_id,
        "status": rolled.status.value,
        "critical_tickets": list(rolled.critical_tickets),
        "tickets_checked": rolled.tickets_checked,
        "nearest_remaining_ms": rolled.nearest_remaining_ms,
        "max_consumed": round(rolled.max_consumed, 4),
    }


def _failed(where: str, exc: Exception) -> None:
    kind = type(exc).__name__
    m.MONITOR_ERRORS.labels(kind).inc()
    log.warning("sla_monitor_failed", where=where, error_type=kind, reason=str(exc))


def _observe_remaining(workflow_id: str, open_checks: list[DeadlineCheck]) -> None:
    """Seconds left before the workflow's nearest open deadline; the series goes away once
    nothing of the workflow is open (one series per running workflow, not per workflow ever)."""
    if not workflow_id:
        return
    if open_checks:
        nearest = min(c.remaining_ms for c in open_checks)
        flow_metrics.SLA_REMAINING.labels(workflow_id).set(nearest / 1000)
        return
    with contextlib.suppress(KeyError):
        flow_metrics.SLA_REMAINING.remove(workflow_id)

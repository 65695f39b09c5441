"""C1 validation and C2 ticket generation as one pure use case (also the `plan` dry run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator_dynamic.domain import dag
from orchestrator_dynamic.domain.decode import parse_decision, parse_plan
from orchestrator_dynamic.domain.errors import Issue, PlanRefused
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision, ExecutionTicket
from orchestrator_dynamic.domain.rules import SlaPolicy
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.domain.tickets import build_tickets
from orchestrator_dynamic.domain.validation import plan_issues


@dataclass(frozen=True)
class PlanningConfig:
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    weights: PriorityWeights = field(default_factory=PriorityWeights)


@dataclass(frozen=True)
class PlannedDecision:
    """A decision that passed C1, with its tickets in topological order."""

    decision: ConsolidatedDecision
    plan: CognitivePlan
    tickets: list[ExecutionTicket]


def plan_decision(
    decision: ConsolidatedDecision, now_ms: int, config: PlanningConfig = PlanningConfig()
) -> PlannedDecision:
    """Validate (C1) and build tickets (C2); raises PlanRefused or MalformedMessage."""
    plan = parse_plan(decision)
    issues = plan_issues(decision, plan, now_ms)
    if issues:
        raise PlanRefused(issues)
    order = dag.topological_order(
        {t.task_id: t.dependencies for t in plan.tasks}, preferred=plan.execution_order
    )
    tickets = build_tickets(decision, plan, now_ms, config.sla, config.weights, order)
    return PlannedDecision(decision, plan, tickets)


def plan_document(
    doc: bytes | str | dict[str, Any], now_ms: int, config: PlanningConfig = PlanningConfig()
) -> PlannedDecision:
    return plan_decision(parse_decision(doc), now_ms, config)


def issues_of(exc: Exception) -> list[Issue]:
    return list(getattr(exc, "issues", [])) or [Issue("error", str(exc))]

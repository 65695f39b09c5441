"""C1 validation and C2 ticket generation as one pure use case (also the `plan` dry run)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator_dynamic.domain import dag
from orchestrator_dynamic.domain.decode import parse_decision, parse_plan
from orchestrator_dynamic.domain.errors import Issue, PlanRefused
from orchestrator_dynamic.domain.model import (
    CognitivePlan,
    ConsolidatedDecision,
    ExecutionTicket,
    TaskType,
)
from orchestrator_dynamic.domain.rules import SlaPolicy
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.domain.task_types import ORIGINAL_TYPE_KEY, resolve
from orchestrator_dynamic.domain.tickets import build_tickets
from orchestrator_dynamic.domain.validation import DEFAULT_ALIASES, plan_issues


@dataclass(frozen=True)
class PlanningConfig:
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    weights: PriorityWeights = field(default_factory=PriorityWeights)
    task_types: Mapping[str, TaskType] = field(default_factory=lambda: dict(DEFAULT_ALIASES))


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
    issues = plan_issues(decision, plan, now_ms, config.task_types)
    if issues:
        raise PlanRefused(issues)
    plan = with_ticket_types(plan, config.task_types)
    order = dag.topological_order(
        {t.task_id: t.dependencies for t in plan.tasks}, preferred=plan.execution_order
    )
    tickets = build_tickets(decision, plan, now_ms, config.sla, config.weights, order)
    return PlannedDecision(decision, plan, tickets)


def with_ticket_types(plan: CognitivePlan, task_types: Mapping[str, TaskType]) -> CognitivePlan:
    """The plan with every task type as its ticket type; a task whose type was written otherwise
    (``create``, ``build``) keeps what upstream wrote in ``metadata.original_task_type``, which
    every ticket of the task carries."""
    tasks = []
    for task in plan.tasks:
        ticket_type = resolve(task.task_type, task_types)
        if ticket_type is None or ticket_type.value == task.task_type:
            tasks.append(task)
            continue
        metadata = {**task.metadata, ORIGINAL_TYPE_KEY: task.task_type}
        tasks.append(task.model_copy(update={"task_type": ticket_type.value, "metadata": metadata}))
    return plan.model_copy(update={"tasks": tasks})


def plan_document(
    doc: bytes | str | dict[str, Any], now_ms: int, config: PlanningConfig = PlanningConfig()
) -> PlannedDecision:
    return plan_decision(parse_decision(doc), now_ms, config)


def issues_of(exc: Exception) -> list[Issue]:
    return list(getattr(exc, "issues", [])) or [Issue("error", str(exc))]

"""Turning a validated plan into execution tickets (C2). Deterministic: same input, same tickets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator_dynamic.domain import rules
from orchestrator_dynamic.domain.model import (
    CognitivePlan,
    ConsolidatedDecision,
    ExecutionTicket,
    RiskBand,
    SecurityLevel,
    TaskNode,
    TaskType,
    TicketStatus,
)
from orchestrator_dynamic.domain.scoring import PriorityWeights, priority_score

# A fixed namespace so every replica derives the same ids; never change it.
TICKET_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-5b7a-9c41-0d2e7f9b3a10")


def ticket_id(decision_id: str, task_id: str) -> str:
    """uuid5(uuid5(NS, decision_id), task_id): a retried or replayed C2 yields the same id."""
    return str(uuid.uuid5(_decision_namespace(decision_id), task_id))


def _decision_namespace(decision_id: str) -> uuid.UUID:
    return uuid.uuid5(TICKET_NAMESPACE, decision_id)


def compensation_ticket_id(original_ticket_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(original_ticket_id), "compensate"))


def normalise_task_type(raw: str) -> TaskType | None:
    """Upstream may send ``build``; tickets carry the ``BUILD`` symbol. None when unknown."""
    try:
        return TaskType(raw.strip().upper())
    except ValueError:
        return None


def build_tickets(
    decision: ConsolidatedDecision,
    plan: CognitivePlan,
    created_at_ms: int,
    sla_policy: rules.SlaPolicy,
    weights: PriorityWeights = PriorityWeights(),
    order: Sequence[str] | None = None,
) -> list[ExecutionTicket]:
    """One PENDING ticket per task, in ``order`` (default: plan order), dependencies mapped
    from task ids to ticket ids."""
    namespace = _decision_namespace(decision.decision_id)  # once a plan, not once a ticket
    ids = {task.task_id: str(uuid.uuid5(namespace, task.task_id)) for task in plan.tasks}
    by_id = {task.task_id: task for task in plan.tasks}
    shared = _PlanShared.of(plan, weights)
    return [
        _ticket(decision, plan, by_id[tid], ids, created_at_ms, sla_policy, shared)
        for tid in (order or [t.task_id for t in plan.tasks])
    ]


@dataclass(frozen=True, slots=True)
class _PlanShared:
    """What every ticket of a plan shares (it follows from the plan's risk band and security
    level), worked out once a plan: a 100-task plan built it 100 times."""

    band: RiskBand
    priority_score: str
    security_level: SecurityLevel

    @classmethod
    def of(cls, plan: CognitivePlan, weights: PriorityWeights) -> _PlanShared:
        band = RiskBand(plan.risk_band)
        qos = rules.qos_for(band)
        return cls(
            band,
            f"{priority_score(band, qos, 0.0, weights):.4f}",
            rules.security_level_for(plan.original_security_level),
        )


def _ticket(
    decision: ConsolidatedDecision,
    plan: CognitivePlan,
    task: TaskNode,
    ids: dict[str, str],
    created_at_ms: int,
    sla_policy: rules.SlaPolicy,
    shared: _PlanShared,
) -> ExecutionTicket:
    band = shared.band
    task_type = normalise_task_type(task.task_type)
    if task_type is None:  # validation refuses unknown types before we get here
        raise ValueError(f"unknown task_type {task.task_type!r}")
    metadata = {
        **task.metadata,
        "workflow_id": decision.decision_id,
        "decision_id": decision.decision_id,
        "priority_score": shared.priority_score,
    }
    if plan.is_destructive or task.task_id in plan.destructive_tasks:
        metadata["destructive"] = "true"  # security_constraints needs it at C3
    return ExecutionTicket(
        ticket_id=ids[task.task_id],
        plan_id=plan.plan_id,
        intent_id=decision.intent_id,
        decision_id=decision.decision_id,
        correlation_id=decision.correlation_id or plan.correlation_id,
        trace_id=decision.trace_id or plan.trace_id,
        span_id=decision.span_id or plan.span_id,
        task_id=task.task_id,
        task_type=task_type,
        description=task.description,
        dependencies=[ids[d] for d in dict.fromkeys(task.dependencies)],
        status=TicketStatus.PENDING,
        priority=rules.PRIORITY[band],
        risk_band=band,
        sla=rules.sla_for(band, task.estimated_duration_ms, created_at_ms, sla_policy),
        qos=rules.qos_for(band),  # a model of its own per ticket: tickets are copied, not shared
        parameters=dict(task.parameters),
        required_capabilities=list(task.required_capabilities),
        security_level=shared.security_level,
        created_at=created_at_ms,
        estimated_duration_ms=task.estimated_duration_ms,
        metadata=metadata,
    )

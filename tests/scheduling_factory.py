"""Tickets and workers for scheduler tests: every field explicit, nothing random."""

from __future__ import annotations

import uuid

from orchestrator_dynamic.domain.model import (
    SLA,
    Consistency,
    DeliveryMode,
    Durability,
    ExecutionTicket,
    QoS,
    RiskBand,
    SecurityLevel,
    TaskType,
    TicketPriority,
)
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry

T0 = 1_795_000_000_000
STRICT = QoS(
    delivery_mode=DeliveryMode.EXACTLY_ONCE,
    consistency=Consistency.STRONG,
    durability=Durability.PERSISTENT,
)
RELAXED = QoS(
    delivery_mode=DeliveryMode.AT_LEAST_ONCE,
    consistency=Consistency.EVENTUAL,
    durability=Durability.PERSISTENT,
)


def ticket(
    *,
    band: RiskBand = RiskBand.MEDIUM,
    qos: QoS = RELAXED,
    capabilities: list[str] | None = None,
    security: SecurityLevel = SecurityLevel.INTERNAL,
    created_at: int = T0,
    timeout_ms: int = 60_000,
    ticket_id: str | None = None,
    dependencies: list[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> ExecutionTicket:
    return ExecutionTicket(
        ticket_id=ticket_id or str(uuid.uuid4()),
        plan_id="plan-1",
        intent_id="intent-1",
        decision_id="decision-1",
        task_id=ticket_id or "task",
        task_type=TaskType.EXECUTE,
        description="test task",
        dependencies=dependencies or [],
        priority=TicketPriority.NORMAL,
        risk_band=band,
        sla=SLA(deadline=created_at + timeout_ms, timeout_ms=timeout_ms, max_retries=1),
        qos=qos,
        required_capabilities=capabilities or [],
        security_level=security,
        created_at=created_at,
        metadata=metadata or {},
    )


def worker(
    worker_id: str,
    capabilities: set[str] | frozenset[str] = frozenset({"python"}),
    *,
    health: Health = Health.HEALTHY,
    namespace: str = "default",
    security: SecurityLevel = SecurityLevel.INTERNAL,
    max_tasks: int = 10,
    active: int = 0,
    success_rate: float = 1.0,
) -> WorkerProfile:
    return WorkerProfile(
        worker_id=worker_id,
        capabilities=frozenset(capabilities),
        health=health,
        namespace=namespace,
        security_level=security,
        max_concurrent_tasks=max_tasks,
        active_tasks=active,
        telemetry=WorkerTelemetry(success_rate=success_rate),
    )

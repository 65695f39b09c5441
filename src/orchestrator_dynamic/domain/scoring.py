"""Priority and worker scores (ARCHITECTURE.md "Fixed rules"). Pure functions over plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator_dynamic.domain.model import (
    Consistency,
    DeliveryMode,
    Durability,
    QoS,
    RiskBand,
    SecurityLevel,
)
from orchestrator_dynamic.domain.rules import SECURITY_RANK


@dataclass(frozen=True)
class PriorityWeights:
    """Weights of the priority score (SCHEDULER_PRIORITY_WEIGHTS); they need not sum to 1."""

    risk: float = 0.4
    qos: float = 0.3
    sla: float = 0.3


RISK_WEIGHT: dict[str, float] = {
    "critical": 1.0,
    "high": 0.7,
    "medium": 0.5,
    "normal": 0.5,
    "low": 0.3,
}


def risk_score(band: RiskBand | str) -> float:
    return RISK_WEIGHT.get(str(band).lower(), 0.5)


def qos_score(qos: QoS) -> float:
    """Stricter delivery guarantees rank higher; table from the specification."""
    if qos.delivery_mode is DeliveryMode.AT_MOST_ONCE:
        return 0.5
    if qos.delivery_mode is DeliveryMode.EXACTLY_ONCE:
        strong = qos.consistency is Consistency.STRONG
        persistent = qos.durability is Durability.PERSISTENT
        return 1.0 if strong and persistent else 0.85
    # AT_LEAST_ONCE
    if qos.consistency is Consistency.STRONG:
        return 0.85
    return 0.595 if qos.durability is Durability.PERSISTENT else 0.5


def deadline_consumed(created_at_ms: int, deadline_ms: int, now_ms: int) -> float:
    """Share of the SLA window already used: 0 at creation, 1 at the deadline, >1 past it."""
    window = deadline_ms - created_at_ms
    if window <= 0:
        return 1.0
    return max(0.0, (now_ms - created_at_ms) / window)


def sla_urgency(consumed: float) -> float:
    if consumed >= 0.8:
        return 1.0
    if consumed >= 0.5:
        return 0.7
    return 0.3


def ml_boost(
    base: float,
    *,
    estimated_ms: int | None = None,
    predicted_ms: float | None = None,
    anomaly: bool = False,
) -> float:
    """+20% when the model predicts > 1.5x the estimate, +20% more on an anomaly (capped at 1)."""
    factor = 1.0
    if predicted_ms is not None and estimated_ms and predicted_ms > 1.5 * estimated_ms:
        factor += 0.2
    if anomaly:
        factor += 0.2
    return min(1.0, base * factor)


def priority_score(
    band: RiskBand | str,
    qos: QoS,
    consumed: float,
    weights: PriorityWeights = PriorityWeights(),
) -> float:
    return (
        weights.risk * risk_score(band)
        + weights.qos * qos_score(qos)
        + weights.sla * sla_urgency(consumed)
    )


def aging_bonus(waited_ms: int, per_minute: float) -> float:
    """Priority added to a ready ticket for each minute it has waited, so low-priority work
    cannot starve: priority scores span less than 1.0, so after ``1 / per_minute`` minutes a
    waiting ticket overtakes any newcomer."""
    return max(0, waited_ms) / 60_000 * per_minute


# ---------------------------------------------------------------- workers


class Health(StrEnum):
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    UNHEALTHY = "UNHEALTHY"


HEALTH_SCORE: dict[Health, float] = {
    Health.HEALTHY: 1.0,
    Health.DEGRADED: 0.6,
    Health.UNHEALTHY: 0.0,
}


@dataclass(frozen=True)
class WorkerTelemetry:
    success_rate: float = 1.0
    duration_score: float = 0.5
    experience: float = 0.0


@dataclass(frozen=True)
class WorkerProfile:
    """What the scheduler knows of a worker agent at one moment."""

    worker_id: str
    capabilities: frozenset[str]
    health: Health = Health.HEALTHY
    namespace: str = "default"
    security_level: SecurityLevel = SecurityLevel.INTERNAL
    max_concurrent_tasks: int = 10
    active_tasks: int = 0
    telemetry: WorkerTelemetry = field(default_factory=WorkerTelemetry)


def telemetry_score(t: WorkerTelemetry) -> float:
    return 0.6 * t.success_rate + 0.2 * t.duration_score + 0.2 * t.experience


def agent_score(worker: WorkerProfile) -> float:
    return 0.5 * HEALTH_SCORE[worker.health] + 0.5 * telemetry_score(worker.telemetry)


def worker_score(agent: float, priority: float) -> float:
    return 0.6 * agent + 0.4 * priority


def ineligibility(
    worker: WorkerProfile,
    capabilities: frozenset[str] | set[str],
    security_level: SecurityLevel,
    namespace: str | None = None,
) -> str | None:
    """Why this worker cannot take the ticket, or None when it can."""
    if worker.health is Health.UNHEALTHY:
        return "unhealthy"
    if worker.active_tasks >= worker.max_concurrent_tasks:
        return f"at capacity ({worker.active_tasks}/{worker.max_concurrent_tasks})"
    missing = set(capabilities) - worker.capabilities
    if missing:
        return "missing capabilities: " + ", ".join(sorted(missing))
    if namespace is not None and worker.namespace != namespace:
        return f"namespace {worker.namespace!r} is not {namespace!r}"
    if SECURITY_RANK[worker.security_level] < SECURITY_RANK[security_level]:
        return f"security level {worker.security_level} below {security_level}"
    return None


def reason_kind(reason: str) -> str:
    """A short, bounded label for an ineligibility reason (for metrics)."""
    for prefix, kind in (
        ("unhealthy", "unhealthy"),
        ("at capacity", "capacity"),
        ("missing capabilities", "capabilities"),
        ("namespace", "namespace"),
        ("security level", "security"),
    ):
        if reason.startswith(prefix):
            return kind
    return "other"

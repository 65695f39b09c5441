"""Upstream Service Registry messages <-> our worker profiles (pure translation, no I/O).

The facts come from the upstream platform: workers register with ``metadata`` carrying their own
``agent_id`` and ``max_concurrent_tasks`` (the registry assigns a separate registry id); the
registry keeps ``security_level`` in metadata and treats it as INTERNAL when absent; the
orchestrator's allocator turns AgentTelemetry into scores with
``duration_score = max(0, 1 - avg_duration_ms / 5000)`` and
``experience = min(1, total_executions / 1000)``, and scores an agent without telemetry as
neutral (0.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2 as pb
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.rules import security_level_for
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry

DURATION_SCALE_MS = 5000.0
EXPERIENCE_SCALE = 1000.0
# Scores 0.5 through telemetry_score(): upstream's "no telemetry" value.
NEUTRAL_TELEMETRY = WorkerTelemetry(success_rate=0.5, duration_score=0.5, experience=0.5)
DEFAULT_MAX_TASKS = WorkerProfile("", frozenset()).max_concurrent_tasks

_HEALTH_OF_STATUS: dict[int, Health] = {
    pb.HEALTHY: Health.HEALTHY,
    pb.DEGRADED: Health.DEGRADED,
    pb.UNHEALTHY: Health.UNHEALTHY,
}  # UNSPECIFIED or a number we do not know: never allocate to it


def health_of(status: int) -> Health:
    return _HEALTH_OF_STATUS.get(status, Health.UNHEALTHY)


def telemetry_of(telemetry: pb.AgentTelemetry | None) -> WorkerTelemetry:
    if telemetry is None:
        return NEUTRAL_TELEMETRY
    return WorkerTelemetry(
        success_rate=min(1.0, max(0.0, telemetry.success_rate)),
        duration_score=max(0.0, 1.0 - telemetry.avg_duration_ms / DURATION_SCALE_MS),
        experience=min(1.0, max(0, telemetry.total_executions) / EXPERIENCE_SCALE),
    )


def agent_telemetry(t: WorkerTelemetry) -> pb.AgentTelemetry:
    """Our scores back to the raw numbers the registry stores (the inverse of telemetry_of)."""
    total = round(t.experience * EXPERIENCE_SCALE)
    return pb.AgentTelemetry(
        success_rate=t.success_rate,
        avg_duration_ms=round((1.0 - t.duration_score) * DURATION_SCALE_MS),
        total_executions=total,
        failed_executions=round(total * (1.0 - t.success_rate)),
    )


def _count(metadata: Mapping[str, str], key: str) -> int | None:
    try:
        value = int(metadata[key])
    except (KeyError, ValueError):
        return None
    return value if value >= 0 else None


def worker_id_of(agent: pb.AgentInfo) -> str:
    """The worker's own id (what it puts on its results), else the registry's id."""
    return agent.metadata.get("agent_id") or agent.agent_id


def worker_of(agent: pb.AgentInfo) -> WorkerProfile:
    metadata = agent.metadata
    max_tasks = _count(metadata, "max_concurrent_tasks")
    return WorkerProfile(
        worker_id=worker_id_of(agent),
        capabilities=frozenset(agent.capabilities),
        health=health_of(agent.status),
        namespace=agent.namespace or "default",
        security_level=security_level_for(metadata.get("security_level")),
        max_concurrent_tasks=max_tasks if max_tasks else DEFAULT_MAX_TASKS,
        active_tasks=_count(metadata, "active_tasks") or 0,
        telemetry=telemetry_of(agent.telemetry if agent.HasField("telemetry") else None),
    )


def newest_per_worker(agents: Iterable[pb.AgentInfo]) -> list[pb.AgentInfo]:
    """One entry per worker id, the latest registration, in the registry's order.

    The registry gives every Register a new id and lets an old entry live until its TTL, so a
    worker that re-registered (or registered through another replica) can appear twice."""
    best: dict[str, pb.AgentInfo] = {}
    for agent in agents:
        key = worker_id_of(agent)
        held = best.get(key)
        if held is None or (agent.registered_at, agent.last_seen) > (
            held.registered_at,
            held.last_seen,
        ):
            best[key] = agent
    return list(best.values())


def register_request(worker: WorkerProfile) -> pb.RegisterRequest:
    """Register as an upstream worker agent does, plus what upstream keeps in metadata."""
    return pb.RegisterRequest(
        agent_type=pb.WORKER,
        capabilities=sorted(worker.capabilities),
        metadata={
            "agent_id": worker.worker_id,
            "max_concurrent_tasks": str(worker.max_concurrent_tasks),
            "active_tasks": str(worker.active_tasks),
            "security_level": worker.security_level.value,
        },
        namespace=worker.namespace,
        telemetry=agent_telemetry(worker.telemetry),
    )


def discover_filters(namespace: str | None, security_level: SecurityLevel | None) -> dict[str, str]:
    """The ``filters`` map of DiscoverAgents, as upstream's allocator fills it."""
    # "HEALTHY" admits DEGRADED agents too on the registry's side; UNHEALTHY ones are never
    # allocated, so there is no point fetching them.
    filters = {"status": "HEALTHY"}
    if namespace is not None:
        filters["namespace"] = namespace
    if security_level is not None:
        filters["security_level"] = security_level.value
    return filters

"""The worker directory behind `/api/v1/workers` and `orchestrator-dynamic workers`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.ports import WorkerRegistry
from orchestrator_dynamic.domain.scoring import WorkerProfile, WorkerTelemetry


@dataclass(frozen=True)
class Registration:
    """What a worker agent says about itself when it registers."""

    worker_id: str
    capabilities: list[str]
    namespace: str = "default"
    security_level: SecurityLevel = SecurityLevel.INTERNAL
    max_concurrent_tasks: int = 10
    success_rate: float = 1.0
    duration_score: float = 0.5
    experience: float = 0.0

    def profile(self) -> WorkerProfile:
        return WorkerProfile(
            worker_id=self.worker_id,
            capabilities=frozenset(self.capabilities),
            namespace=self.namespace,
            security_level=self.security_level,
            max_concurrent_tasks=self.max_concurrent_tasks,
            telemetry=WorkerTelemetry(self.success_rate, self.duration_score, self.experience),
        )


def worker_doc(worker: WorkerProfile) -> dict[str, Any]:
    """JSON-ready view of a worker, as the API and the CLI show it."""
    t = worker.telemetry
    return {
        "worker_id": worker.worker_id,
        "capabilities": sorted(worker.capabilities),
        "health": worker.health.value,
        "namespace": worker.namespace,
        "security_level": worker.security_level.value,
        "max_concurrent_tasks": worker.max_concurrent_tasks,
        "active_tasks": worker.active_tasks,
        "telemetry": {
            "success_rate": t.success_rate,
            "duration_score": t.duration_score,
            "experience": t.experience,
        },
    }


class WorkerDirectory:
    """Register, heartbeat and list workers through whichever registry is configured."""

    def __init__(self, registry: WorkerRegistry) -> None:
        self._registry = registry

    async def register(self, registration: Registration) -> dict[str, Any]:
        profile = registration.profile()
        await self._registry.register(profile)
        return worker_doc(profile)

    async def heartbeat(self, worker_id: str, active_tasks: int | None) -> None:
        await self._registry.heartbeat(worker_id, active_tasks)

    async def list(
        self, capabilities: list[str], namespace: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Workers with every listed capability, by id; health as of now."""
        found = await self._registry.discover(
            capabilities, namespace=namespace, max_results=limit + offset
        )
        return [worker_doc(w) for w in found[offset : offset + limit]]

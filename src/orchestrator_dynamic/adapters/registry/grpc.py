"""Client of the gRPC Service Registry (grpc_gen/service_registry.proto) behind the
WorkerRegistry port. Every call has a deadline (SERVICE_REGISTRY_TIMEOUT_SECONDS); an
unreachable or failing registry raises RegistryUnavailable, so the scheduler falls back to the
last known healthy workers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2 as pb
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2_grpc as pb_grpc
from orchestrator_dynamic.domain.errors import NotFound, RegistryUnavailable
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry

T = TypeVar("T")


def agent_of(worker: WorkerProfile) -> Any:
    """Domain profile -> wire AgentInfo."""
    t = worker.telemetry
    return pb.AgentInfo(
        agent_id=worker.worker_id,
        capabilities=sorted(worker.capabilities),
        namespace=worker.namespace,
        security_level=worker.security_level.value,  # enum values travel by name
        health=worker.health.value,
        max_concurrent_tasks=worker.max_concurrent_tasks,
        active_tasks=worker.active_tasks,
        telemetry=pb.Telemetry(
            success_rate=t.success_rate, duration_score=t.duration_score, experience=t.experience
        ),
    )


def worker_of(agent: Any) -> WorkerProfile:
    """Wire AgentInfo -> domain profile; unspecified fields take the domain's defaults."""
    health = pb.HealthStatus.Name(agent.health)
    level = pb.SecurityLevel.Name(agent.security_level)
    telemetry = agent.telemetry if agent.HasField("telemetry") else None
    return WorkerProfile(
        worker_id=agent.agent_id,
        capabilities=frozenset(agent.capabilities),
        health=Health(health) if health in Health.__members__ else Health.UNHEALTHY,
        namespace=agent.namespace or "default",
        security_level=SecurityLevel(level)
        if level in SecurityLevel.__members__
        else SecurityLevel.PUBLIC,
        max_concurrent_tasks=agent.max_concurrent_tasks or 1,
        active_tasks=agent.active_tasks,
        telemetry=WorkerTelemetry(
            telemetry.success_rate, telemetry.duration_score, telemetry.experience
        )
        if telemetry is not None
        else WorkerTelemetry(),
    )


class GrpcRegistry:
    """Implements the WorkerRegistry port. ``start`` opens the channel, ``stop`` closes it."""

    def __init__(self, target: str, timeout_seconds: float = 3.0) -> None:
        self._target = target
        self._timeout = timeout_seconds
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self._target)
        self._stub = pb_grpc.ServiceRegistryStub(self._channel)  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def ping(self) -> None:
        """Raise RegistryUnavailable unless the registry answers a discovery in time."""
        await self.discover([], max_results=1)

    async def _call(self, rpc: Callable[[], Awaitable[T]]) -> T:
        if self._stub is None:
            raise RegistryUnavailable("service_registry", "client not started")
        try:
            return await rpc()
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                raise NotFound(exc.details() or "not registered") from exc
            reason = f"{exc.code().name}: {exc.details()}"
            raise RegistryUnavailable("service_registry", reason) from exc

    async def discover(
        self,
        capabilities: Sequence[str],
        *,
        namespace: str | None = None,
        security_level: SecurityLevel | None = None,
        max_results: int = 100,
    ) -> list[WorkerProfile]:
        request = pb.DiscoverRequest(
            capabilities=list(capabilities),
            namespace=namespace or "",
            security_level=security_level.value if security_level else "SECURITY_LEVEL_UNSPECIFIED",
            max_results=max_results,
        )
        reply = await self._call(lambda: self._stub.DiscoverAgents(request, timeout=self._timeout))
        return [worker_of(agent) for agent in reply.agents]

    async def register(self, worker: WorkerProfile) -> None:
        request = pb.RegisterRequest(agent=agent_of(worker))
        await self._call(lambda: self._stub.RegisterAgent(request, timeout=self._timeout))

    async def heartbeat(self, worker_id: str, active_tasks: int | None = None) -> None:
        request = pb.HeartbeatRequest(agent_id=worker_id)
        if active_tasks is not None:
            request.active_tasks = active_tasks
        await self._call(lambda: self._stub.Heartbeat(request, timeout=self._timeout))

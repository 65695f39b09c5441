"""An in-test Service Registry speaking the upstream platform's protocol
(package ``neural_hive.service_registry``), on a real gRPC server on a loopback port.

The upstream registry needs Redis, its pheromone service and its observability libraries, so it
cannot run here; this is the closest honest stand-in. It follows the upstream registry's
behaviour as published: Register assigns a new UUID each time (and ignores Register's telemetry),
Heartbeat needs that UUID (NOT_FOUND otherwise) and recomputes the status from the telemetry's
success rate (< 0.3 UNHEALTHY, < 0.5 DEGRADED), DiscoverAgents applies the exact-match ``filters``
(``status=HEALTHY`` admits DEGRADED; ``security_level`` read from metadata, INTERNAL when absent),
then keeps HEALTHY agents only, ranked, at most ``max_results`` (5 when 0). WatchAgents streams
change events (switch ``watch`` off to answer UNIMPLEMENTED, as a registry without it does).

``register_as_worker_agent`` / ``heartbeat_as_worker_agent`` talk to any registry the way the
upstream worker agents do (services/worker-agents), to check our client reads what they send.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc

from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2 as pb
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2_grpc as pb_grpc

DEFAULT_MAX_RESULTS = 5


def _status_for(success_rate: float) -> int:
    if success_rate < 0.3:
        return pb.UNHEALTHY
    if success_rate < 0.5:
        return pb.DEGRADED
    return pb.HEALTHY


def _matches(agent: pb.AgentInfo, filters: dict[str, str]) -> bool:
    for key, value in filters.items():
        if key in ("namespace", "cluster", "version") and getattr(agent, key) != value:
            return False
        if key == "status":
            if value == "HEALTHY":
                if agent.status not in (pb.HEALTHY, pb.DEGRADED):
                    return False
            elif pb.AgentStatus.Name(agent.status) != value:
                return False
        if key == "security_level" and agent.metadata.get("security_level", "INTERNAL") != value:
            return False
    return True


def _rank(agent: pb.AgentInfo) -> float:
    """health 0.4 + pheromone 0.3 (neutral here: no pheromone service) + telemetry 0.3."""
    health = {pb.HEALTHY: 1.0, pb.DEGRADED: 0.5}.get(agent.status, 0.0)
    t = agent.telemetry
    telemetry = 0.5 if t.total_executions == 0 else t.success_rate
    return 0.4 * health + 0.3 * 0.5 + 0.3 * telemetry


class Servicer(pb_grpc.ServiceRegistryServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.agents: dict[str, pb.AgentInfo] = {}
        self.delay_s = 0.0
        self.calls = 0
        self.watch = True
        self.watch_calls = 0
        self.heartbeats: list[pb.HeartbeatRequest] = []
        self.discoveries: list[pb.DiscoverRequest] = []
        self._subscribers: list[asyncio.Queue[pb.AgentChangeEvent]] = []

    def _emit(self, kind: int, agent: pb.AgentInfo) -> None:
        event = pb.AgentChangeEvent(event_type=kind, timestamp=int(time.time() * 1000))
        event.agent.CopyFrom(agent)
        for queue in self._subscribers:
            queue.put_nowait(event)

    def expire(self, agent_id: str) -> None:
        """What the registry's TTL does to an agent that stopped heartbeating (no event)."""
        self.agents.pop(agent_id, None)

    def by_worker(self, worker_id: str) -> list[pb.AgentInfo]:
        return [a for a in self.agents.values() if a.metadata.get("agent_id") == worker_id]

    async def Register(self, request: pb.RegisterRequest, context: Any) -> pb.RegisterResponse:
        if not request.capabilities:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "capabilities must not be empty")
        now = int(time.time())
        agent = pb.AgentInfo(
            agent_id=str(uuid.uuid4()),
            agent_type=request.agent_type,
            capabilities=list(request.capabilities),
            metadata=dict(request.metadata),
            status=pb.HEALTHY,
            registered_at=now,
            last_seen=now,
            namespace=request.namespace or "default",
            cluster=request.cluster or "local",
            version=request.version or "1.0.0",
            schema_version=1,
        )
        agent.telemetry.SetInParent()  # the registry starts every agent with empty telemetry
        self.agents[agent.agent_id] = agent
        self._emit(pb.AgentChangeEvent.REGISTERED, agent)
        return pb.RegisterResponse(
            agent_id=agent.agent_id, registration_token=f"token-{agent.agent_id}", registered_at=now
        )

    async def Heartbeat(self, request: pb.HeartbeatRequest, context: Any) -> pb.HeartbeatResponse:
        self.heartbeats.append(request)
        agent = self.agents.get(request.agent_id)
        if agent is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"Agente {request.agent_id} não encontrado"
            )
        assert agent is not None
        agent.last_seen = int(time.time())
        if request.HasField("telemetry"):
            agent.telemetry.CopyFrom(request.telemetry)
        old = agent.status
        agent.status = _status_for(agent.telemetry.success_rate)
        self._emit(pb.AgentChangeEvent.UPDATED, agent)
        if agent.status != old:
            self._emit(pb.AgentChangeEvent.STATUS_CHANGED, agent)
        return pb.HeartbeatResponse(status=agent.status, last_seen=agent.last_seen)

    async def Deregister(
        self, request: pb.DeregisterRequest, context: Any
    ) -> pb.DeregisterResponse:
        agent = self.agents.pop(request.agent_id, None)
        if agent is not None:
            self._emit(pb.AgentChangeEvent.DEREGISTERED, agent)
        return pb.DeregisterResponse(success=agent is not None)

    async def DiscoverAgents(
        self, request: pb.DiscoverRequest, context: Any
    ) -> pb.DiscoverResponse:
        self.calls += 1
        self.discoveries.append(request)
        await asyncio.sleep(self.delay_s)
        need = set(request.capabilities)
        filters = dict(request.filters)
        found = [
            a
            for a in self.agents.values()
            if _matches(a, filters) and need <= set(a.capabilities) and a.status == pb.HEALTHY
        ]
        found.sort(key=_rank, reverse=True)
        limit = request.max_results or DEFAULT_MAX_RESULTS
        return pb.DiscoverResponse(agents=found[:limit], ranked=True)

    async def ListAgents(
        self, request: pb.ListAgentsRequest, context: Any
    ) -> pb.ListAgentsResponse:
        filters = dict(request.filters)
        found = [
            a
            for a in self.agents.values()
            if (not request.agent_type or a.agent_type == request.agent_type)
            and _matches(a, filters)
        ]
        return pb.ListAgentsResponse(agents=found)

    async def WatchAgents(
        self, request: pb.WatchAgentsRequest, context: Any
    ) -> AsyncIterator[pb.AgentChangeEvent]:
        self.watch_calls += 1
        if not self.watch:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        queue: asyncio.Queue[pb.AgentChangeEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while True:
                event = await queue.get()
                if not request.agent_type or event.agent.agent_type == request.agent_type:
                    yield event
        finally:
            self._subscribers.remove(queue)

    @property
    def watchers(self) -> int:
        return len(self._subscribers)


class RegistryServer:
    """Start with ``start()``; ``target`` is host:port; ``stop()`` takes it down (its agents
    stay, so a ``start()`` on the same port is a registry restart)."""

    def __init__(self) -> None:
        self.servicer = Servicer()
        self.server: Any = None
        self.port = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = grpc.aio.server()
        pb_grpc.add_ServiceRegistryServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=None)
            self.server = None


async def register_as_worker_agent(
    target: str,
    agent_id: str,
    capabilities: list[str],
    *,
    namespace: str = "default",
    max_concurrent_tasks: int = 5,
) -> str:
    """Register the way an upstream worker agent does; returns the registry's id for it."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ServiceRegistryStub(channel)  # type: ignore[no-untyped-call]
        reply = await stub.Register(
            pb.RegisterRequest(
                agent_type=pb.WORKER,
                capabilities=capabilities,
                metadata={
                    "agent_id": agent_id,
                    "http_port": "8080",
                    "grpc_port": "50052",
                    "max_concurrent_tasks": str(max_concurrent_tasks),
                },
                namespace=namespace,
                cluster="neural-hive",
                version="1.0.0",
            ),
            timeout=5,
        )
        registry_id: str = reply.agent_id
        return registry_id


async def heartbeat_as_worker_agent(
    target: str,
    registry_id: str,
    *,
    success_rate: float = 1.0,
    avg_duration_ms: int = 0,
    total_executions: int = 0,
    failed_executions: int = 0,
) -> int:
    """A worker agent's heartbeat (its telemetry); returns the status the registry answers."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ServiceRegistryStub(channel)  # type: ignore[no-untyped-call]
        reply = await stub.Heartbeat(
            pb.HeartbeatRequest(
                agent_id=registry_id,
                telemetry=pb.AgentTelemetry(
                    success_rate=success_rate,
                    avg_duration_ms=avg_duration_ms,
                    total_executions=total_executions,
                    failed_executions=failed_executions,
                    last_execution_at=int(time.time() * 1000),
                ),
            ),
            timeout=5,
        )
        status: int = reply.status
        return status

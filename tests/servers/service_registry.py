"""An in-test gRPC Service Registry implementing our .proto, backed by the built-in registry.

No reference Service Registry server can run here, so this is the closest honest stand-in: a
real gRPC server on a loopback port speaking the same protocol, with switches to make it slow."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.adapters.registry.grpc import agent_of, worker_of
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2 as pb
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2_grpc as pb_grpc
from orchestrator_dynamic.domain.errors import NotFound
from orchestrator_dynamic.domain.model import SecurityLevel


class Servicer(pb_grpc.ServiceRegistryServicer):  # type: ignore[misc]
    def __init__(self, registry: BuiltinRegistry) -> None:
        self.registry = registry
        self.delay_s = 0.0
        self.calls = 0

    async def DiscoverAgents(self, request: Any, context: Any) -> Any:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        level = pb.SecurityLevel.Name(request.security_level)
        found = await self.registry.discover(
            list(request.capabilities),
            namespace=request.namespace or None,
            security_level=SecurityLevel(level) if level in SecurityLevel.__members__ else None,
            max_results=request.max_results or 100,
        )
        return pb.DiscoverResponse(agents=[agent_of(w) for w in found])

    async def RegisterAgent(self, request: Any, context: Any) -> Any:
        await self.registry.register(worker_of(request.agent))
        return pb.RegisterResponse(accepted=True)

    async def Heartbeat(self, request: Any, context: Any) -> Any:
        active = request.active_tasks if request.HasField("active_tasks") else None
        try:
            await self.registry.heartbeat(request.agent_id, active)
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        worker = await self.registry.get(request.agent_id)
        return pb.HeartbeatResponse(health=worker.health.value)


class RegistryServer:
    """Start with ``start()``; ``target`` is host:port; ``stop()`` takes it down."""

    def __init__(self, registry: BuiltinRegistry | None = None) -> None:
        self.servicer = Servicer(registry or BuiltinRegistry())
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

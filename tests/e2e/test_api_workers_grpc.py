"""The worker API over the gRPC Service Registry: registrations made through our API land in the
registry as upstream worker agents' do, and agents that registered with the registry directly
are listed, heartbeated and allocated to.

In-process ASGI app; the registry is the in-test gRPC server speaking the upstream protocol
(tests/servers/service_registry.py), since the upstream registry cannot run here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.grpc import GrpcRegistry
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.services.scheduling import IntelligentScheduler
from tests.scheduling_factory import T0, ticket
from tests.servers.service_registry import (
    RegistryServer,
    heartbeat_as_worker_agent,
    register_as_worker_agent,
)

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer admin-token"}
READ = {"Authorization": "Bearer read-token"}


class Services:
    def __init__(self, registry: GrpcRegistry) -> None:
        self.registry = registry


@pytest.fixture
async def stack() -> AsyncIterator[tuple[httpx.AsyncClient, RegistryServer, GrpcRegistry]]:
    server = RegistryServer()
    await server.start()
    registry = GrpcRegistry(server.target, timeout_seconds=2.0)
    await registry.start()
    app = create_app(Services(registry), {"admin-token": "admin", "read-token": "read"})
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api"
        ) as http:
            yield http, server, registry
    finally:
        await registry.stop()
        await server.stop()


async def test_api_registrations_and_worker_agents_meet_in_the_registry(
    stack: tuple[httpx.AsyncClient, RegistryServer, GrpcRegistry],
) -> None:
    http, server, registry = stack
    body = {
        "worker_id": "api-1", "capabilities": ["python"], "namespace": "ml",
        "security_level": "CONFIDENTIAL", "max_concurrent_tasks": 4,
        "telemetry": {"success_rate": 0.9, "duration_score": 0.8, "experience": 0.25},
    }  # fmt: skip
    assert (await http.post("/api/v1/workers", json=body, headers=ADMIN)).status_code == 201
    (entry,) = server.servicer.by_worker("api-1")
    assert entry.metadata["security_level"] == "CONFIDENTIAL" and entry.namespace == "ml"
    assert entry.telemetry.avg_duration_ms == 1000 and entry.telemetry.total_executions == 250

    agent_id = await register_as_worker_agent(server.target, "agent-7", ["python"], namespace="ml")
    await heartbeat_as_worker_agent(server.target, agent_id, success_rate=1.0, total_executions=10)
    listed = await http.get("/api/v1/workers", params={"namespace": "ml"}, headers=READ)
    assert listed.status_code == 200
    docs = {w["worker_id"]: w for w in listed.json()}
    assert set(docs) == {"api-1", "agent-7"}
    assert docs["api-1"]["telemetry"] == body["telemetry"]
    assert (docs["agent-7"]["security_level"], docs["agent-7"]["max_concurrent_tasks"]) == (
        "INTERNAL",
        5,
    )

    beat = await http.post("/api/v1/workers/agent-7/heartbeat", json={}, headers=ADMIN)
    assert beat.status_code == 202
    assert server.servicer.heartbeats[-1].agent_id == agent_id
    missing = await http.post("/api/v1/workers/nobody/heartbeat", json={}, headers=ADMIN)
    assert missing.status_code == 404

    # A CONFIDENTIAL ticket goes to the only worker cleared for it.
    scheduler = IntelligentScheduler(registry, MemoryCache())
    secret = ticket(capabilities=["python"], security=SecurityLevel.CONFIDENTIAL)
    allocation = await scheduler.allocate(secret, T0)
    assert (allocation.worker_id, allocation.method) == ("api-1", "intelligent")


async def test_registry_down_is_a_503_naming_it(
    stack: tuple[httpx.AsyncClient, RegistryServer, GrpcRegistry],
) -> None:
    http, server, _ = stack
    await server.stop()
    listed = await http.get("/api/v1/workers", headers=READ)
    assert listed.status_code == 503
    assert "service_registry" in listed.text

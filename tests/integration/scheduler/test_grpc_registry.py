"""The gRPC registry client when the registry misbehaves, and the scheduler's fallback.

Against the in-test gRPC server of tests/servers/service_registry.py (a real gRPC server
speaking our .proto; no reference Service Registry can run here)."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.grpc import GrpcRegistry
from orchestrator_dynamic.domain.errors import RegistryUnavailable
from orchestrator_dynamic.observability import scheduler_metrics as m
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.scheduling_factory import T0, ticket, worker
from tests.servers.redis import free_port
from tests.servers.service_registry import RegistryServer

pytestmark = pytest.mark.integration


async def test_unreachable_registry_raises_registry_unavailable() -> None:
    client = GrpcRegistry(f"127.0.0.1:{free_port()}", timeout_seconds=0.5)
    await client.start()
    with pytest.raises(RegistryUnavailable, match="service_registry unavailable: UNAVAILABLE"):
        await client.discover(["python"])
    with pytest.raises(RegistryUnavailable):
        await client.ping()
    await client.stop()


async def test_a_slow_registry_hits_the_timeout(grpc_registry_server: RegistryServer) -> None:
    grpc_registry_server.servicer.delay_s = 1.0
    client = GrpcRegistry(grpc_registry_server.target, timeout_seconds=0.2)
    await client.start()
    with pytest.raises(RegistryUnavailable, match="DEADLINE_EXCEEDED"):
        await client.discover(["python"])
    await client.stop()


async def test_registry_down_means_fallback_allocation(
    grpc_registry_server: RegistryServer,
) -> None:
    client = GrpcRegistry(grpc_registry_server.target, timeout_seconds=0.5)
    await client.start()
    await client.register(worker("grpc-a", {"python"}))
    sched = IntelligentScheduler(client, MemoryCache(), SchedulerConfig(cache_ttl_seconds=0))
    first = await sched.allocate(ticket(capabilities=["python"]), T0)
    assert (first.worker_id, first.method) == ("grpc-a", "intelligent")
    await grpc_registry_server.stop()
    fallbacks = m.FALLBACKS._value.get()
    second = await sched.allocate(ticket(capabilities=["python"]), T0)
    assert (second.worker_id, second.method) == ("grpc-a", "fallback")
    assert second.explanation["allocation_method"] == "fallback"
    assert m.FALLBACKS._value.get() == fallbacks + 1
    await client.stop()

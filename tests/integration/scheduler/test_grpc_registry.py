"""The gRPC registry client over the upstream Service Registry protocol: what it sends, what it
reads from agents registered as upstream worker agents register, the watch, the failures, and
the scheduler's fallback.

Against the in-test gRPC server of tests/servers/service_registry.py (a real gRPC server
following the upstream registry's published behaviour; the upstream registry itself cannot run
here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.grpc import GrpcRegistry
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2 as pb
from orchestrator_dynamic.domain.errors import MalformedMessage, NotFound, RegistryUnavailable
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.scoring import Health, WorkerTelemetry
from orchestrator_dynamic.observability import scheduler_metrics as m
from orchestrator_dynamic.services.discovery import CachedDiscovery, Query
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.scheduling_factory import T0, ticket, worker
from tests.servers.redis import free_port
from tests.servers.service_registry import (
    RegistryServer,
    heartbeat_as_worker_agent,
    register_as_worker_agent,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(grpc_registry_server: RegistryServer) -> AsyncIterator[GrpcRegistry]:
    registry = GrpcRegistry(grpc_registry_server.target, timeout_seconds=2.0)
    await registry.start()
    yield registry
    await registry.stop()


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_reads_agents_registered_as_upstream_worker_agents_do(
    grpc_registry_server: RegistryServer, client: GrpcRegistry
) -> None:
    target = grpc_registry_server.target
    registry_id = await register_as_worker_agent(
        target, "worker-agent-1", ["python", "helm"], namespace="ml", max_concurrent_tasks=3
    )
    status = await heartbeat_as_worker_agent(
        target, registry_id, success_rate=0.9, avg_duration_ms=1000, total_executions=250
    )
    assert status == pb.HEALTHY
    (got,) = await client.discover(["helm"], namespace="ml", security_level=SecurityLevel.INTERNAL)
    assert got.worker_id == "worker-agent-1"  # the id its results carry, not the registry's
    assert (got.health, got.namespace, got.max_concurrent_tasks) == (Health.HEALTHY, "ml", 3)
    assert got.security_level is SecurityLevel.INTERNAL  # no security_level in its metadata
    assert got.telemetry == WorkerTelemetry(success_rate=0.9, duration_score=0.8, experience=0.25)
    # A worker whose success rate drops is DEGRADED for the registry, and no longer offered.
    await heartbeat_as_worker_agent(target, registry_id, success_rate=0.4)
    assert await client.discover(["helm"]) == []


async def test_discovery_sends_upstreams_filters(
    grpc_registry_server: RegistryServer, client: GrpcRegistry
) -> None:
    await client.register(
        worker("conf", {"gpu"}, namespace="ml", security=SecurityLevel.RESTRICTED)
    )
    found = await client.discover(
        ["gpu"], namespace="ml", security_level=SecurityLevel.CONFIDENTIAL, max_results=4
    )
    assert [w.worker_id for w in found] == ["conf"]  # RESTRICTED clears a CONFIDENTIAL need
    sent = [(list(r.capabilities), dict(r.filters), r.max_results) for r in
            grpc_registry_server.servicer.discoveries]  # fmt: skip
    base = {"status": "HEALTHY", "namespace": "ml"}
    assert sent == [
        (["gpu"], {**base, "security_level": "CONFIDENTIAL"}, 4),
        (["gpu"], {**base, "security_level": "RESTRICTED"}, 4),
    ]


async def test_registration_on_the_wire(
    grpc_registry_server: RegistryServer, client: GrpcRegistry
) -> None:
    servicer = grpc_registry_server.servicer
    await client.register(worker("w-9", {"python"}, max_tasks=4, success_rate=0.8))
    (entry,) = servicer.by_worker("w-9")
    assert entry.agent_type == pb.WORKER
    assert dict(entry.metadata) == {
        "agent_id": "w-9", "max_concurrent_tasks": "4", "active_tasks": "0",
        "security_level": "INTERNAL",
    }  # fmt: skip
    # Register's telemetry is ignored by the registry: the first heartbeat carries it.
    assert servicer.heartbeats[-1].agent_id == entry.agent_id
    assert servicer.heartbeats[-1].telemetry.success_rate == pytest.approx(0.8)
    await client.heartbeat("w-9", active_tasks=2)
    assert servicer.heartbeats[-1].agent_id == entry.agent_id
    await client.register(worker("w-9", {"python", "helm"}))  # replaces the old entry
    (again,) = servicer.by_worker("w-9")
    assert again.agent_id != entry.agent_id and set(again.capabilities) == {"python", "helm"}
    await client.deregister("w-9")
    assert servicer.by_worker("w-9") == []


async def test_a_worker_the_registry_expired_registers_again(
    grpc_registry_server: RegistryServer, client: GrpcRegistry
) -> None:
    servicer = grpc_registry_server.servicer
    await client.register(worker("w-exp", {"python"}))
    (entry,) = servicer.by_worker("w-exp")
    servicer.expire(entry.agent_id)
    await client.heartbeat("w-exp")
    (renewed,) = servicer.by_worker("w-exp")
    assert renewed.agent_id != entry.agent_id
    assert [w.worker_id for w in await client.discover(["python"])] == ["w-exp"]


async def test_heartbeat_of_a_worker_registered_elsewhere(
    grpc_registry_server: RegistryServer, client: GrpcRegistry
) -> None:
    registry_id = await register_as_worker_agent(grpc_registry_server.target, "far", ["x"])
    await client.heartbeat("far")  # found through ListAgents by the worker's own id
    assert grpc_registry_server.servicer.heartbeats[-1].agent_id == registry_id
    with pytest.raises(NotFound):
        await client.heartbeat("nobody")


async def test_a_worker_without_capabilities_is_refused_by_field(client: GrpcRegistry) -> None:
    with pytest.raises(MalformedMessage) as refused:
        await client.register(worker("empty", set()))
    assert refused.value.field == "capabilities"


async def test_watch_invalidates_the_discovery_cache(
    grpc_registry_server: RegistryServer,
) -> None:
    target = grpc_registry_server.target
    watching, blind = GrpcRegistry(target), GrpcRegistry(target, watch=False)
    await watching.start()
    await blind.start()
    try:
        fresh = CachedDiscovery(watching, MemoryCache(), ttl_seconds=60)
        stale = CachedDiscovery(blind, MemoryCache(), ttl_seconds=60)
        query = Query(("watched",), None, None, 5)
        assert (await fresh.discover(query)).workers == []
        assert (await stale.discover(query)).workers == []
        assert await eventually(lambda: _true(grpc_registry_server.servicer.watchers == 1))
        await register_as_worker_agent(target, "newcomer", ["watched"])

        async def seen() -> bool:
            return [w.worker_id for w in (await fresh.discover(query)).workers] == ["newcomer"]

        assert await eventually(seen)
        assert (await stale.discover(query)).workers == []  # without the watch: until the TTL
        # A heartbeat (UPDATED, same status) is no reason to ask the registry again.
        calls = grpc_registry_server.servicer.calls
        (entry,) = grpc_registry_server.servicer.by_worker("newcomer")
        await heartbeat_as_worker_agent(target, entry.agent_id, success_rate=0.9)
        await asyncio.sleep(0.2)
        await fresh.discover(query)
        assert grpc_registry_server.servicer.calls == calls
        # A departure is.
        await watching.deregister("newcomer")

        async def gone() -> bool:
            return (await fresh.discover(query)).workers == []

        assert await eventually(gone)
    finally:
        await watching.stop()
        await blind.stop()


async def test_watch_survives_a_registry_restart(grpc_registry_server: RegistryServer) -> None:
    servicer = grpc_registry_server.servicer
    registry = GrpcRegistry(grpc_registry_server.target, watch_retry_seconds=(0.05, 0.2))
    await registry.start()
    try:
        assert await eventually(lambda: _true(servicer.watchers == 1))
        await grpc_registry_server.stop()
        await grpc_registry_server.start()  # same port, same agents
        assert await eventually(lambda: _true(servicer.watchers == 1))
        assert registry.watching
    finally:
        await registry.stop()


async def test_a_registry_without_watch_is_used_without_it(
    grpc_registry_server: RegistryServer,
) -> None:
    grpc_registry_server.servicer.watch = False
    registry = GrpcRegistry(grpc_registry_server.target, watch_retry_seconds=(0.01, 0.01))
    with capture_logs() as logs:
        await registry.start()
        try:
            assert await eventually(lambda: _true(not registry.watching))
            await registry.register(worker("plain", {"python"}))
            assert [w.worker_id for w in await registry.discover(["python"])] == ["plain"]
            await asyncio.sleep(0.1)
        finally:
            await registry.stop()
    assert grpc_registry_server.servicer.watch_calls == 1  # asked once, never again
    assert [e["event"] for e in logs if "watch" in e["event"]] == ["registry_watch_unsupported"]


async def _true(value: bool) -> bool:
    return value


async def test_unreachable_registry_raises_registry_unavailable() -> None:
    client = GrpcRegistry(f"127.0.0.1:{free_port()}", timeout_seconds=0.5, watch=False)
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

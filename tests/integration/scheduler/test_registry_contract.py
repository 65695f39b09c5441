"""The WorkerRegistry port's contract, passed by the built-in registry and by the gRPC client
(against an in-test gRPC server implementing the upstream Service Registry protocol: see
tests/servers/service_registry.py; set SERVICE_REGISTRY_HOST/PORT to also run the suite against
a real Neural Hive-Mind Service Registry)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.adapters.registry.grpc import GrpcRegistry
from orchestrator_dynamic.domain.errors import NotFound
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.ports import WorkerRegistry
from orchestrator_dynamic.domain.scoring import Health
from tests.scheduling_factory import worker
from tests.servers.service_registry import RegistryServer

pytestmark = pytest.mark.integration
REAL = os.environ.get("SERVICE_REGISTRY_HOST")


@pytest.fixture(params=["builtin", "grpc", "real-grpc"])
async def registry(
    request: pytest.FixtureRequest, shared_registry_server: RegistryServer
) -> AsyncIterator[WorkerRegistry]:
    if request.param == "builtin":
        yield BuiltinRegistry()
        return
    if request.param == "real-grpc":
        if not REAL:
            pytest.skip("SERVICE_REGISTRY_HOST is not set")
        target = f"{REAL}:{os.environ.get('SERVICE_REGISTRY_PORT', '50051')}"
        client = GrpcRegistry(target)
    else:
        client = GrpcRegistry(shared_registry_server.target)
    await client.start()
    yield client
    await client.stop()


def uid() -> str:
    return uuid.uuid4().hex[:10]


async def test_discover_needs_every_capability(registry: WorkerRegistry) -> None:
    cap_a, cap_b = f"a-{uid()}", f"b-{uid()}"
    await registry.register(worker("w1", {cap_a}))
    await registry.register(worker("w2", {cap_a, cap_b}))
    found = await registry.discover([cap_a, cap_b])
    assert [w.worker_id for w in found] == ["w2"]
    assert sorted(w.worker_id for w in await registry.discover([cap_a])) == ["w1", "w2"]
    assert await registry.discover([f"none-{uid()}"]) == []


async def test_profiles_round_trip(registry: WorkerRegistry) -> None:
    cap = f"c-{uid()}"
    sent = worker(
        "full", {cap, "python"}, namespace="ml", security=SecurityLevel.RESTRICTED,
        max_tasks=7, active=2, success_rate=0.75,
    )  # fmt: skip
    await registry.register(sent)
    (got,) = await registry.discover([cap])
    assert got == sent


async def test_namespace_security_and_max_results(registry: WorkerRegistry) -> None:
    cap = f"n-{uid()}"
    await registry.register(worker("pub", {cap}, security=SecurityLevel.PUBLIC))
    await registry.register(worker("conf", {cap}, security=SecurityLevel.CONFIDENTIAL))
    await registry.register(worker("other-ns", {cap}, namespace="other"))
    secure = await registry.discover([cap], security_level=SecurityLevel.CONFIDENTIAL)
    assert [w.worker_id for w in secure] == ["conf"]
    in_ns = await registry.discover([cap], namespace="other")
    assert [w.worker_id for w in in_ns] == ["other-ns"]
    assert len(await registry.discover([cap], max_results=2)) == 2


async def test_heartbeat_and_re_registration(registry: WorkerRegistry) -> None:
    cap, new = f"h-{uid()}", f"h2-{uid()}"
    await registry.register(worker("hb", {cap}))
    # The load is informational (the scheduler counts it itself); upstream's Heartbeat has no
    # field for it, so only the built-in registry keeps it (tests/unit/scheduler).
    await registry.heartbeat("hb", active_tasks=4)
    (got,) = await registry.discover([cap])
    assert (got.worker_id, got.health) == ("hb", Health.HEALTHY)
    await registry.register(worker("hb", {new}))  # the last registration wins
    assert await registry.discover([cap]) == []
    assert [w.worker_id for w in await registry.discover([new])] == ["hb"]
    with pytest.raises(NotFound):
        await registry.heartbeat(f"ghost-{uid()}")

"""Settings choose the scheduler's adapters: Redis and the gRPC registry when configured."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from orchestrator_dynamic import bootstrap
from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.cache.redis import RedisCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.adapters.registry.grpc import GrpcRegistry
from orchestrator_dynamic.settings import Settings, SettingsError, load_settings
from tests.scheduling_factory import T0, ticket, worker
from tests.scheduling_queue import fleet, long_ticket, urgent_ticket
from tests.servers.service_registry import RegistryServer

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


async def test_defaults_are_in_process() -> None:
    settings = load_settings()
    async with AsyncExitStack() as stack:
        cache = await bootstrap.open_cache(settings, stack)
        registry = await bootstrap.open_registry(settings, cache, stack)
    assert isinstance(cache, MemoryCache) and isinstance(registry, BuiltinRegistry)


async def test_redis_and_grpc_registry_when_configured(
    redis_port: int, shared_registry_server: RegistryServer
) -> None:
    settings = load_settings(
        redis_cluster_nodes=f"127.0.0.1:{redis_port}",
        service_registry_host="127.0.0.1",
        service_registry_port=shared_registry_server.port,
        service_registry_max_results=3,
    )
    async with AsyncExitStack() as stack:
        cache = await bootstrap.open_cache(settings, stack)
        registry = await bootstrap.open_registry(settings, cache, stack)
        assert isinstance(cache, RedisCache) and isinstance(registry, GrpcRegistry)
        assert registry.watching  # SERVICE_REGISTRY_WATCH defaults on
        await registry.register(worker("wired-1", {"wired"}))
        scheduler = bootstrap.build_scheduler(settings, registry, cache)
        allocation = await scheduler.allocate(ticket(capabilities=["wired"]), T0)
        assert (allocation.worker_id, allocation.method) == ("wired-1", "intelligent")
        await scheduler.release(allocation.ticket_id, "wired-1")


@pytest.mark.parametrize(
    ("spec", "message"),
    [(",", "no host:port"), ("localhost", "'localhost' is not host:port"),
     ("a:1,b:x", "'b:x' is not host:port"), ("a:70000", "'a:70000'")],
)  # fmt: skip
def test_a_bad_node_list_is_refused_naming_the_setting(spec: str, message: str) -> None:
    with pytest.raises(SettingsError, match="REDIS_CLUSTER_NODES") as info:
        load_settings(redis_cluster_nodes=spec)
    assert message in str(info.value)


def test_node_lists_parse() -> None:
    assert load_settings(redis_cluster_nodes="a:1, b:6379,").redis_nodes() == [
        ("a", 1), ("b", 6379)
    ]  # fmt: skip
    assert load_settings().redis_nodes() == []


async def test_round_robin_when_the_intelligent_scheduler_is_off() -> None:
    settings = load_settings(enable_intelligent_scheduler=False)
    async with AsyncExitStack() as stack:
        cache = await bootstrap.open_cache(settings, stack)
        registry = await bootstrap.open_registry(settings, cache, stack)
        for worker_id in ("a", "b"):
            await registry.register(worker(worker_id, {"rr"}))
        scheduler = bootstrap.build_scheduler(settings, registry, cache)
        picks = [await scheduler.allocate(ticket(capabilities=["rr"]), T0) for _ in range(4)]
    assert [(p.worker_id, p.method) for p in picks] == [
        ("a", "round_robin"), ("b", "round_robin"), ("a", "round_robin"), ("b", "round_robin")
    ]  # fmt: skip


async def test_the_deadline_tolerance_is_read_from_settings() -> None:
    for tolerance, expected in ((0.0, "best"), (0.05, "close")):
        settings = load_settings(scheduler_deadline_score_tolerance=tolerance)
        async with AsyncExitStack() as stack:
            cache = await bootstrap.open_cache(settings, stack)
            registry = await bootstrap.open_registry(settings, cache, stack)
            for w in fleet("dl"):
                await registry.register(w)
            scheduler = bootstrap.build_scheduler(settings, registry, cache)
            for _ in range(3):
                await scheduler.allocate(long_ticket("dl"), T0)
            assert (await scheduler.allocate(urgent_ticket("dl"), T0)).worker_id == expected
    with pytest.raises(SettingsError, match="SCHEDULER_DEADLINE_SCORE_TOLERANCE"):
        load_settings(scheduler_deadline_score_tolerance=1.5)

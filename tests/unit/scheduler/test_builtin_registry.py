"""The built-in registry's index stays right as workers come, change and go."""

from __future__ import annotations

from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from tests.scheduling_factory import worker


async def ids(registry: BuiltinRegistry, *caps: str, limit: int = 100) -> list[str]:
    return [w.worker_id for w in await registry.discover(list(caps), max_results=limit)]


async def test_index_follows_registrations() -> None:
    registry = BuiltinRegistry()
    for worker_id, caps in (("c", {"x"}), ("a", {"x", "y"}), ("b", {"y"})):
        await registry.register(worker(worker_id, caps))
    assert await ids(registry, "x") == ["a", "c"]
    assert await ids(registry, "x", "y") == ["a"]
    assert await ids(registry) == ["a", "b", "c"]
    assert await ids(registry, "x", limit=1) == ["a"]
    await registry.deregister("a")
    assert await ids(registry, "x") == ["c"]
    assert await ids(registry) == ["b", "c"]
    await registry.register(worker("b", {"x"}))  # changes capabilities
    assert await ids(registry, "x") == ["b", "c"]
    assert await ids(registry, "y") == []
    assert await ids(registry, "unknown") == []


async def test_a_heartbeat_reports_the_load() -> None:
    registry = BuiltinRegistry()
    await registry.register(worker("hb", {"x"}))
    await registry.heartbeat("hb", active_tasks=4)
    assert (await registry.get("hb")).active_tasks == 4
    await registry.heartbeat("hb")  # no figure: the last one stays
    assert (await registry.get("hb")).active_tasks == 4

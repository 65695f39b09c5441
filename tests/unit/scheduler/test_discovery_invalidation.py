"""A registry that reports changes empties the discovery cache; one that does not keeps the TTL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.services.discovery import CachedDiscovery, ChangeFeed, Query
from tests.scheduling_factory import worker

QUERY = Query(("python",), None, None, 10)


class FeedRegistry(BuiltinRegistry):
    """The built-in registry, telling its listeners of every registration (as WatchAgents does)."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners: list[Callable[[], Awaitable[None]]] = []
        self.calls = 0
        self.hold: asyncio.Event | None = None

    def on_change(self, listener: Callable[[], Awaitable[None]]) -> None:
        self.listeners.append(listener)

    async def register(self, worker: WorkerProfile) -> None:
        await super().register(worker)
        for listener in self.listeners:
            await listener()

    async def discover(self, capabilities: Sequence[str], **kwargs: Any) -> list[WorkerProfile]:
        self.calls += 1
        found = await super().discover(capabilities, **kwargs)
        if self.hold is not None:
            await self.hold.wait()
        return found


def ids(workers: list[WorkerProfile]) -> list[str]:
    return [w.worker_id for w in workers]


async def test_a_change_empties_the_cache() -> None:
    registry, cache = FeedRegistry(), MemoryCache()
    assert isinstance(registry, ChangeFeed)
    discovery = CachedDiscovery(registry, cache, ttl_seconds=60)
    await registry.register(worker("a"))
    assert ids((await discovery.discover(QUERY)).workers) == ["a"]
    assert ids((await discovery.discover(QUERY)).workers) == ["a"]
    assert registry.calls == 1  # the second answer came from the cache
    await registry.register(worker("b"))
    assert ids((await discovery.discover(QUERY)).workers) == ["a", "b"]
    assert registry.calls == 2
    assert await cache.get(QUERY.key()) is not None


async def test_without_a_feed_the_answer_stays_until_the_ttl() -> None:
    registry = BuiltinRegistry()
    assert not isinstance(registry, ChangeFeed)
    discovery = CachedDiscovery(registry, MemoryCache(), ttl_seconds=60)
    await registry.register(worker("a"))
    await discovery.discover(QUERY)
    await registry.register(worker("b"))
    assert ids((await discovery.discover(QUERY)).workers) == ["a"]


async def test_an_answer_overtaken_by_a_change_is_not_cached() -> None:
    registry = FeedRegistry()
    discovery = CachedDiscovery(registry, MemoryCache(), ttl_seconds=60)
    await registry.register(worker("a"))
    registry.hold = asyncio.Event()
    slow = asyncio.create_task(discovery.discover(QUERY))
    await asyncio.sleep(0.01)
    await registry.register(worker("b"))  # lands while the discovery is in flight
    registry.hold.set()
    assert ids((await slow).workers) == ["a"]
    registry.hold = None
    assert ids((await discovery.discover(QUERY)).workers) == ["a", "b"]

"""Capacity accounting across two orchestrator replicas: two IntelligentScheduler instances,
each with its own registry view and Redis client, sharing one real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from orchestrator_dynamic.adapters.cache.redis import RedisCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.scheduling_factory import T0, ticket, worker

pytestmark = pytest.mark.integration


async def replica(
    port: int, fleet: list[str], capacity: int
) -> tuple[IntelligentScheduler, RedisCache]:
    registry = BuiltinRegistry()
    for worker_id in fleet:
        await registry.register(worker(worker_id, {"python"}, max_tasks=capacity))
    cache = RedisCache([("127.0.0.1", port)])
    await cache.start()
    return IntelligentScheduler(registry, cache, SchedulerConfig(cache_ttl_seconds=5)), cache


async def test_two_replicas_never_overfill_a_worker(redis_port: int) -> None:
    fleet = [f"w-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    capacity = 3
    (a, cache_a), (b, cache_b) = [await replica(redis_port, fleet, capacity) for _ in range(2)]
    try:
        tickets = [ticket(capabilities=["python"]) for _ in range(40)]
        allocations = await asyncio.gather(
            *(
                (a if i % 2 else b).allocate(t, T0)
                for i, t in enumerate(tickets)
            )
        )  # fmt: skip
        load = Counter(x.worker_id for x in allocations if x.worker_id)
        assert sum(load.values()) == len(fleet) * capacity  # every slot used ...
        assert max(load.values()) == capacity  # ... and none overfilled
        assert {x.method for x in allocations} == {"intelligent", "unassigned"}
        for worker_id in fleet:
            assert await a.active_tasks(worker_id) == capacity
        # A result frees a slot for either replica, exactly once.
        done = next(x for x in allocations if x.worker_id)
        assert done.worker_id is not None
        await asyncio.gather(
            a.release(done.ticket_id, done.worker_id), b.release(done.ticket_id, done.worker_id)
        )
        assert await b.active_tasks(done.worker_id) == capacity - 1
        again = await b.allocate(ticket(capabilities=["python"]), T0)
        assert again.worker_id == done.worker_id
    finally:
        await cache_a.stop()
        await cache_b.stop()

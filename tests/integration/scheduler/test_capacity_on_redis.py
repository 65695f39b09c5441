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
# Discovery answers are cached in the shared Redis too: each test asks for its own capability.
CAP = f"cap-{uuid.uuid4().hex[:8]}"
CAP2 = f"cap-{uuid.uuid4().hex[:8]}"


async def replica(
    port: int, fleet: list[str], capacity: int, cap: str
) -> tuple[IntelligentScheduler, RedisCache]:
    registry = BuiltinRegistry()
    for worker_id in fleet:
        await registry.register(worker(worker_id, {cap}, max_tasks=capacity))
    cache = RedisCache([("127.0.0.1", port)])
    await cache.start()
    return IntelligentScheduler(registry, cache, SchedulerConfig(cache_ttl_seconds=5)), cache


async def test_two_replicas_never_overfill_a_worker(redis_port: int) -> None:
    fleet = [f"w-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    capacity = 3
    (a, cache_a), (b, cache_b) = [await replica(redis_port, fleet, capacity, CAP) for _ in range(2)]
    try:
        tickets = [ticket(capabilities=[CAP]) for _ in range(40)]
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
        again = await b.allocate(ticket(capabilities=[CAP]), T0)
        assert again.worker_id == done.worker_id
    finally:
        await cache_a.stop()
        await cache_b.stop()


async def test_one_ticket_allocated_by_both_replicas_at_once_holds_one_slot(
    redis_port: int,
) -> None:
    fleet = [f"w-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    (a, cache_a), (b, cache_b) = [await replica(redis_port, fleet, 10, CAP2) for _ in range(2)]
    try:
        t = ticket(capabilities=[CAP2])
        results = await asyncio.gather(*((a, b)[i % 2].allocate(t, T0) for i in range(20)))
        assert len({r.worker_id for r in results}) == 1
        held = [await a.active_tasks(w) for w in fleet]
        assert sum(held) == 1
    finally:
        await cache_a.stop()
        await cache_b.stop()

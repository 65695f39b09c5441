"""Deadline-aware placement across two orchestrator replicas sharing one real redis-server: the
predicted work one replica reserved is what the other sees, in the same round trip as its own
reservation, and it moves an urgent ticket to the close worker that meets the deadline."""

from __future__ import annotations

import uuid

import pytest

from orchestrator_dynamic.adapters.cache.redis import RedisCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.scheduling_factory import T0, ticket, worker
from tests.scheduling_queue import LONG_MS, SLOTS, fleet, long_ticket, urgent_ticket

pytestmark = pytest.mark.integration


async def replica(port: int, cap: str, suffix: str) -> tuple[IntelligentScheduler, RedisCache]:
    registry = BuiltinRegistry()
    for w in fleet(cap, suffix):
        await registry.register(w)
    cache = RedisCache([("127.0.0.1", port)])
    await cache.start()
    config = SchedulerConfig(cache_ttl_seconds=5, local_discovery_seconds=1.0)
    return IntelligentScheduler(registry, cache, config), cache


async def test_a_replica_sees_the_others_predicted_work_and_meets_the_deadline(
    redis_port: int,
) -> None:
    cap, suffix = f"cap-{uuid.uuid4().hex[:6]}", f"-{uuid.uuid4().hex[:6]}"
    best, close = f"best{suffix}", f"close{suffix}"
    (a, cache_a), (b, cache_b) = [await replica(redis_port, cap, suffix) for _ in range(2)]
    try:
        fillers = [long_ticket(cap) for _ in range(3)]
        for f in fillers:
            assert (await a.allocate(f, T0)).worker_id == best
        urgent = urgent_ticket(cap)
        allocation = await b.allocate(urgent, T0)
        assert allocation.worker_id == close
        queue = allocation.explanation["queue"]
        assert queue["changed"] and queue["score_pick"] == best
        rows = {c["worker_id"]: c for c in allocation.explanation["candidates"]}
        assert rows[best]["predicted_queue_ms"] == 3 * LONG_MS // SLOTS
        assert rows[best]["in_flight"] == 3 and rows[best]["meets_deadline"] is False
        assert allocation.metadata["predicted_queue_ms"] == "0"
        assert (await a.active_tasks(best), await a.active_tasks(close)) == (3, 1)
        # A retried C3 of the same ticket on the other replica keeps the moved reservation.
        again = await a.allocate(urgent, T0)
        assert (again.worker_id, again.method) == (close, "reserved")
        # Once the long tickets end, the best score meets the deadline again.
        for f in fillers:
            await b.release(f.ticket_id, best)
        later = await a.allocate(urgent_ticket(cap), T0)
        assert later.worker_id == best
        assert later.explanation["queue"]["changed"] is False
    finally:
        await cache_a.stop()
        await cache_b.stop()


async def test_offers_beyond_the_first_call_are_reserved_in_chunks_on_redis(
    redis_port: int,
) -> None:
    cap, tag = f"cap-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    registry = BuiltinRegistry()
    for i in range(15):  # one slot each, distinct scores; tolerance 0: the top 10 are read
        await registry.register(
            worker(f"w{i:02d}-{tag}", {cap}, max_tasks=1, success_rate=1 - i / 100)
        )
    cache = RedisCache([("127.0.0.1", redis_port)])
    await cache.start()
    try:
        config = SchedulerConfig(cache_ttl_seconds=0, score_tolerance=0.0)
        sched = IntelligentScheduler(registry, cache, config)
        picks = [await sched.allocate(ticket(capabilities=[cap]), T0) for _ in range(16)]
        assert [p.worker_id for p in picks[:15]] == [f"w{i:02d}-{tag}" for i in range(15)]
        assert picks[15].method == "unassigned"
        assert picks[12].explanation["queue"]["in_flight"] == 0
    finally:
        await cache.stop()

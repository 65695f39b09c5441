"""Leases on a real redis-server, and loops that must run once, run by two replicas at a time:
each replica is its own LeasedLoop with its own Redis client, as two processes would be."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from orchestrator_dynamic.adapters.lease.memory import MemoryLeases
from orchestrator_dynamic.adapters.lease.redis import RedisLeases
from orchestrator_dynamic.services.leases import LeasedLoop, LoopFactory

pytestmark = pytest.mark.integration


async def test_memory_leases_are_exclusive_until_they_expire() -> None:
    now = [0.0]
    leases = MemoryLeases(clock=lambda: now[0])
    assert await leases.acquire("loop", "a", 10)
    assert not await leases.acquire("loop", "b", 10)
    assert await leases.acquire("loop", "a", 10), "the holder renews"
    now[0] = 11
    assert await leases.acquire("loop", "b", 10), "an expired lease is free"
    await leases.release("loop", "a")
    assert not await leases.acquire("loop", "a", 10), "a release by a non-holder does nothing"


async def test_redis_leases_are_exclusive_renewable_and_expire(redis_port: int) -> None:
    name = f"lease-{uuid.uuid4().hex[:8]}"
    a, b = RedisLeases([("127.0.0.1", redis_port)]), RedisLeases([("127.0.0.1", redis_port)])
    await a.start()
    await b.start()
    try:
        assert await a.acquire(name, "a", 0.3)
        assert not await b.acquire(name, "b", 0.3)
        assert await a.acquire(name, "a", 0.3)
        await b.release(name, "b")
        assert not await b.acquire(name, "b", 0.3), "b cannot release a's lease"
        await asyncio.sleep(0.4)
        assert await b.acquire(name, "b", 0.3), "a stopped renewing: b takes over"
        await b.release(name, "b")
        assert await a.acquire(name, "a", 0.3)
    finally:
        await a.stop()
        await b.stop()


async def test_two_replicas_run_a_leased_loop_one_at_a_time_and_hand_over(
    redis_port: int,
) -> None:
    name = f"loop-{uuid.uuid4().hex[:8]}"
    running: set[str] = set()
    overlaps: list[set[str]] = []
    ran_in: set[str] = set()

    def guarded(replica: str) -> LoopFactory:
        async def loop() -> None:
            running.add(replica)
            ran_in.add(replica)
            try:
                while True:
                    if len(running) > 1:
                        overlaps.append(set(running))
                    await asyncio.sleep(0.02)
            finally:
                running.discard(replica)

        return loop

    clients = [RedisLeases([("127.0.0.1", redis_port)]) for _ in range(2)]
    for client in clients:
        await client.start()
    loops = [
        LeasedLoop(client, name, replica, guarded(replica), ttl_s=1.0)
        for client, replica in zip(clients, ("r1", "r2"), strict=True)
    ]
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        await asyncio.sleep(1.5)
        assert len(running) == 1, "one replica runs it"
        [first] = running
        holder = tasks[0] if first == "r1" else tasks[1]
        holder.cancel()  # the holder stops (released on the way out): the other takes over
        await asyncio.gather(holder, return_exceptions=True)
        await asyncio.sleep(1.0)
        assert running and first not in running
        assert ran_in == {"r1", "r2"}
        assert overlaps == [], "never both at once"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.stop()


async def test_a_replica_whose_lease_was_taken_stops_the_loop(redis_port: int) -> None:
    """As after a freeze past the TTL: the lease went to another replica, so the next renewal
    fails and the guarded loop is cancelled."""
    name = f"loop-{uuid.uuid4().hex[:8]}"
    client = RedisLeases([("127.0.0.1", redis_port)])
    await client.start()
    stopped = asyncio.Event()

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    leased = LeasedLoop(client, name, "r1", loop, ttl_s=0.6)
    task = asyncio.create_task(leased.run())
    thief = RedisLeases([("127.0.0.1", redis_port)])
    await thief.start()
    try:
        await asyncio.sleep(0.3)
        # The lease expires while r1 is frozen (no renewal) and r2 takes it.
        await client._client.delete(f"lease:{name}")
        assert await thief.acquire(name, "r2", 5)
        await asyncio.wait_for(stopped.wait(), 2)
        assert not await client.acquire(name, "r1", 5), "r2 keeps it"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await thief.stop()
        await client.stop()

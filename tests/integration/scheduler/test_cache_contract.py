"""The Cache port's contract, passed by every adapter: in-process, Redis and Redis Cluster
(real redis-server processes started by the session)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.cache.redis import RedisCache
from orchestrator_dynamic.domain.errors import CacheUnavailable
from orchestrator_dynamic.domain.ports import Cache, LedgerCache, SlotOffer
from orchestrator_dynamic.domain.queueing import InFlight
from tests.servers.redis import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    if request.param == "redis":
        nodes = [("127.0.0.1", request.getfixturevalue("redis_port"))]
    else:
        nodes = [("127.0.0.1", p) for p in request.getfixturevalue("redis_cluster_ports")]
    adapter = RedisCache(nodes)
    await adapter.start()
    yield adapter
    await adapter.stop()


def key() -> str:
    return f"test:{uuid.uuid4()}"


async def test_get_set_delete(cache: Cache) -> None:
    k = key()
    assert await cache.get(k) is None
    await cache.set(k, b"\x00value")
    assert await cache.get(k) == b"\x00value"
    assert await cache.delete(k) is True
    assert await cache.delete(k) is False
    assert await cache.get(k) is None


async def test_ttl_expires(cache: Cache) -> None:
    k = key()
    await cache.set(k, b"v", ttl_seconds=0.05)
    await asyncio.sleep(0.15)
    assert await cache.get(k) is None


async def test_add_sets_only_when_absent(cache: Cache) -> None:
    k = key()
    assert await cache.add(k, b"first", 60) is True
    assert await cache.add(k, b"second", 60) is False
    assert await cache.get(k) == b"first"


async def test_incr_counts_from_zero_and_keeps_the_ttl(cache: Cache) -> None:
    k = key()
    assert await cache.incr(k) == 1
    assert await cache.incr(k, 5) == 6
    assert await cache.incr(k, -7) == -1
    ttl = key()
    await cache.set(ttl, b"10", ttl_seconds=0.05)
    assert await cache.incr(ttl) == 11
    await asyncio.sleep(0.15)
    assert await cache.get(ttl) is None


async def test_concurrent_incr_and_delete_are_atomic(cache: Cache) -> None:
    k = key()
    await asyncio.gather(*(cache.incr(k) for _ in range(200)))
    assert await cache.get(k) == b"200"
    deleted = await asyncio.gather(*(cache.delete(k) for _ in range(10)))
    assert deleted.count(True) == 1


async def test_unreachable_redis_raises_cache_unavailable() -> None:
    adapter = RedisCache([("127.0.0.1", free_port())], timeout_seconds=0.5)
    with pytest.raises(CacheUnavailable, match="redis unavailable"):
        await adapter.start()
    with pytest.raises(CacheUnavailable):
        await adapter.get("k")
    await adapter.stop()


# ---------------------------------------------------------------- capacity ledger

DAY_S = 86_400.0


def ledger(cache: Cache) -> LedgerCache:
    assert isinstance(cache, MemoryCache | RedisCache)
    return cache


async def test_ledger_reserves_the_first_offer_with_room_and_reads_the_loads(
    cache: Cache,
) -> None:
    led = ledger(cache)
    a, b, c = (f"w-{uuid.uuid4().hex[:6]}" for _ in range(3))
    offers = [SlotOffer(a, 1), SlotOffer(b, 2), SlotOffer(c, 2)]
    first = await led.reserve(key(), offers, InFlight(1_000, 500), read=3, ttl_seconds=DAY_S)
    assert (first.worker_id, first.index, first.already) == (a, 0, False)
    assert all(load.count == 0 for load in first.loads.values())  # read before the reservation
    second = await led.reserve(key(), offers, InFlight(2_000, 700), read=3, ttl_seconds=DAY_S)
    assert (second.worker_id, second.index) == (b, 1)  # a is full
    assert second.loads[a].in_flight == (InFlight(1_000, 500),)
    assert second.loads[a].work_ms(1_200) == 300
    loads = await led.loads([a, b, c])
    assert [loads[w].count for w in (a, b, c)] == [1, 1, 0]
    assert loads[b].in_flight == (InFlight(2_000, 700),)


async def test_ledger_keeps_a_ticket_on_its_worker_and_refuses_when_all_are_full(
    cache: Cache,
) -> None:
    led = ledger(cache)
    a, b = (f"w-{uuid.uuid4().hex[:6]}" for _ in range(2))
    ticket = key()
    one = await led.reserve(ticket, [SlotOffer(a, 1)], InFlight(0, 1), read=1, ttl_seconds=DAY_S)
    again = await led.reserve(
        ticket, [SlotOffer(b, 5)], InFlight(0, 1), read=1, ttl_seconds=DAY_S
    )  # a retried C3 that was offered another worker
    assert (one.worker_id, again.worker_id, again.already) == (a, a, True)
    full = await led.reserve(key(), [SlotOffer(a, 1)], InFlight(0, 1), read=1, ttl_seconds=DAY_S)
    assert (full.worker_id, full.index) == (None, None)
    assert (await led.loads([a, b]))[b].count == 0


async def test_ledger_drops_entries_older_than_the_reservation_ttl(cache: Cache) -> None:
    led = ledger(cache)
    w = f"w-{uuid.uuid4().hex[:6]}"
    await led.reserve(key(), [SlotOffer(w, 1)], InFlight(1_000, 10), read=1, ttl_seconds=60)
    # 61 s later the first entry's reservation has expired: its slot is taken back.
    later = await led.reserve(
        key(), [SlotOffer(w, 1)], InFlight(62_000, 10), read=1, ttl_seconds=60
    )
    assert later.worker_id == w
    assert later.loads[w].count == 0


async def test_ledger_moves_a_ticket_only_from_its_holder_to_a_worker_with_room(
    cache: Cache,
) -> None:
    led = ledger(cache)
    a, b, full = (f"w-{uuid.uuid4().hex[:6]}" for _ in range(3))
    t = key()
    entry = InFlight(5_000, 100)
    await led.reserve(t, [SlotOffer(a, 3)], entry, read=1, ttl_seconds=DAY_S)
    await led.reserve(key(), [SlotOffer(full, 1)], entry, read=1, ttl_seconds=DAY_S)
    assert await led.move(t, a, SlotOffer(full, 1), entry, DAY_S) == a  # no room there
    assert await led.move(t, b, SlotOffer(full, 9), entry, DAY_S) == a  # not b's to move
    assert await led.move(t, a, SlotOffer(b, 1), entry, DAY_S) == b
    loads = await led.loads([a, b])
    assert (loads[a].count, loads[b].in_flight) == (0, (entry,))
    assert await led.release_slot(t, b) is True
    assert (await led.loads([b]))[b].count == 0


async def test_ledger_release_gives_a_slot_back_once(cache: Cache) -> None:
    led = ledger(cache)
    w = f"w-{uuid.uuid4().hex[:6]}"
    t = key()
    await led.reserve(t, [SlotOffer(w, 1)], InFlight(0, 1), read=1, ttl_seconds=DAY_S)
    released = await asyncio.gather(*(led.release_slot(t, w) for _ in range(5)))
    assert released.count(True) == 1
    assert await led.release_slot(key(), w) is False  # never reserved
    again = await led.reserve(t, [SlotOffer(w, 1)], InFlight(0, 1), read=1, ttl_seconds=DAY_S)
    assert (again.worker_id, again.already) == (w, False)  # released: reserved anew

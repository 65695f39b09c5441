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
from orchestrator_dynamic.domain.ports import Cache
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

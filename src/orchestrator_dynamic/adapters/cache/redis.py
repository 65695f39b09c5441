"""Redis (or Redis Cluster) behind the Cache port, with redis-py's asyncio client.

One node -> a plain client; several -> RedisCluster. Every operation is a single Redis command
(GET, SET PX, SET NX PX, INCRBY, DEL), so each is atomic across orchestrator replicas; INCRBY
keeps a key's TTL, like the in-process cache. Driver errors become CacheUnavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import RedisError

from orchestrator_dynamic.domain.errors import CacheUnavailable

T = TypeVar("T")
MAX_CONNECTIONS = 64


class RedisCache:
    """Implements the Cache port. Call ``start`` before use and ``stop`` at shutdown."""

    def __init__(
        self,
        nodes: Sequence[tuple[str, int]],
        password: str | None = None,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._nodes = list(nodes)
        self._client: Redis | RedisCluster = self._build(password or None, timeout_seconds)
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    def _build(self, password: str | None, timeout: float) -> Redis | RedisCluster:
        if len(self._nodes) == 1:
            host, port = self._nodes[0]
            # A blocking pool makes a burst of concurrent allocations queue for a connection
            # instead of failing with "too many connections".
            pool = BlockingConnectionPool(
                max_connections=MAX_CONNECTIONS,
                timeout=timeout,
                host=host,
                port=port,
                password=password,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
            return Redis(connection_pool=pool)
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in self._nodes],
            max_connections=MAX_CONNECTIONS,
            password=password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        try:
            # The cluster client fails instead of waiting when its pool is exhausted, so a
            # burst of concurrent allocations queues here for a connection.
            async with self._slots:
                return await op()
        except RedisError as exc:
            raise CacheUnavailable("redis", f"{type(exc).__name__}: {exc}") from exc

    async def start(self) -> None:
        if isinstance(self._client, RedisCluster):
            await self._call(self._client.initialize)
        await self.ping()

    async def stop(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        await self._call(self._client.ping)

    async def get(self, key: str) -> bytes | None:
        value = await self._call(lambda: self._client.get(key))
        return value.encode() if isinstance(value, str) else value  # we never decode responses

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        px = _ms(ttl_seconds) if ttl_seconds else None
        await self._call(lambda: self._client.set(key, value, px=px))

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        done = await self._call(lambda: self._client.set(key, value, px=_ms(ttl_seconds), nx=True))
        return bool(done)

    async def incr(self, key: str, amount: int = 1) -> int:
        return int(await self._call(lambda: self._client.incrby(key, amount)))

    async def delete(self, key: str) -> bool:
        return int(await self._call(lambda: self._client.delete(key))) > 0


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))

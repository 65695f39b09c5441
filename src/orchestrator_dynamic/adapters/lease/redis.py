"""Leases in Redis, shared by every replica: ``SET key holder NX PX ttl`` takes a free lease and a
compare-and-extend script renews it, so only the holder extends or releases its own lease, and a
holder that stops renewing (killed, frozen, cut off) loses it after ``ttl``.

The key is one Redis key, so on Redis Cluster each lease lives on one node; the scripts touch one
key only (cluster-safe). Driver errors become CacheUnavailable: a replica that cannot reach Redis
cannot prove it holds a lease, and the caller stops the guarded loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import RedisError

from orchestrator_dynamic.domain.errors import CacheUnavailable

PREFIX = "lease:"
# Extend when held by us, take when free; one atomic step either way.
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLeases:
    """Implements the Leases port. Call ``start`` before use and ``stop`` at shutdown."""

    def __init__(
        self,
        nodes: Sequence[tuple[str, int]],
        password: str | None = None,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._client: Redis | RedisCluster
        if len(nodes) == 1:
            host, port = nodes[0]
            self._client = Redis(
                host=host,
                port=port,
                password=password or None,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
            )
        else:
            self._client = RedisCluster(
                startup_nodes=[ClusterNode(h, p) for h, p in nodes],
                password=password or None,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
            )

    async def start(self) -> None:
        try:
            if isinstance(self._client, RedisCluster):
                await self._client.initialize()
            await self._client.ping()
        except RedisError as exc:
            raise CacheUnavailable("redis", f"{type(exc).__name__}: {exc}") from exc

    async def stop(self) -> None:
        await self._client.aclose()

    async def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        ttl_ms = max(1, int(ttl_seconds * 1000))
        try:
            taken = await self._client.eval(_ACQUIRE, 1, PREFIX + name, holder, ttl_ms)
        except RedisError as exc:
            raise CacheUnavailable("redis", f"{type(exc).__name__}: {exc}") from exc
        return bool(taken)

    async def release(self, name: str, holder: str) -> None:
        try:
            await self._client.eval(_RELEASE, 1, PREFIX + name, holder)
        except RedisError as exc:
            raise CacheUnavailable("redis", f"{type(exc).__name__}: {exc}") from exc

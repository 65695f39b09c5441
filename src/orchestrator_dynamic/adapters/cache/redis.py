"""Redis (or Redis Cluster) behind the Cache port, with redis-py's asyncio client.

One node -> a plain client; several -> RedisCluster. Every operation is a single Redis command
(GET, SET PX, SET NX PX, INCRBY, DEL), so each is atomic across orchestrator replicas; INCRBY
keeps a key's TTL, like the in-process cache. The capacity ledger's calls are one Lua script
each (adapters/cache/redis_ledger.py): one round trip, atomic. Driver errors become
CacheUnavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import RedisError

from orchestrator_dynamic.adapters.cache import redis_ledger as ledger
from orchestrator_dynamic.domain.errors import CacheUnavailable
from orchestrator_dynamic.domain.ports import Reservation, SlotOffer
from orchestrator_dynamic.domain.queueing import InFlight, WorkerLoad

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
        self._reserve = self._client.register_script(ledger.RESERVE)
        self._move = self._client.register_script(ledger.MOVE)
        self._release = self._client.register_script(ledger.RELEASE)
        self._loads = self._client.register_script(ledger.LOADS)

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

    # ---------------------------------------------------------------- capacity ledger

    async def reserve(
        self,
        ticket_id: str,
        offers: Sequence[SlotOffer],
        entry: InFlight,
        *,
        read: int,
        ttl_seconds: float,
    ) -> Reservation:
        read = min(read, len(offers))
        keys, args = ledger.reserve_args(ticket_id, offers, entry, read, ttl_seconds)
        reply: list[Any] = await self._call(lambda: self._reserve(keys, args))
        return ledger.reservation_of(reply, offers, read)

    async def move(
        self, ticket_id: str, from_worker: str, to: SlotOffer, entry: InFlight, ttl_seconds: float
    ) -> str | None:
        ttl_ms = ledger.ttl_of(ttl_seconds)
        keys = [
            ledger.reservation_key(ticket_id),
            ledger.worker_key(from_worker),
            ledger.worker_key(to.worker_id),
        ]
        args: list[str | int] = [
            ticket_id,
            from_worker,
            to.worker_id,
            to.limit,
            ledger.entry_value(entry),
            ttl_ms,
            entry.reserved_at_ms - ttl_ms,
        ]
        holder = await self._call(lambda: self._move(keys, args))
        return None if holder is None else holder.decode() if isinstance(holder, bytes) else holder

    async def release_slot(self, ticket_id: str, worker_id: str) -> bool:
        keys = [ledger.reservation_key(ticket_id), ledger.worker_key(worker_id)]
        return int(await self._call(lambda: self._release(keys, [ticket_id, worker_id]))) > 0

    async def loads(self, worker_ids: Sequence[str]) -> dict[str, WorkerLoad]:
        if not worker_ids:
            return {}
        keys = [ledger.worker_key(w) for w in worker_ids]
        reply: list[Any] = await self._call(lambda: self._loads(keys))
        return {w: ledger.load_of(v) for w, v in zip(worker_ids, reply, strict=True)}


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))

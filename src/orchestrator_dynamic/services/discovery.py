"""Worker discovery for C3: registry answers cached with a TTL in the Cache port, and a
fallback to the last known healthy workers when the registry cannot be reached.

A registry that reports its changes (the gRPC Service Registry's WatchAgents) empties the cache
on every change, so a new or departed worker is seen at once rather than after the TTL.

Over a shared (Redis) cache, ``local_seconds`` keeps each answer in process for that long too,
so most allocations make no discovery round trip at all: an answer is then at most
``local_seconds`` older than the shared one (a change feed empties both at once)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import structlog

from orchestrator_dynamic.domain.errors import CacheUnavailable, RegistryUnavailable
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.ports import Cache, WorkerRegistry
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry
from orchestrator_dynamic.observability import scheduler_metrics as m
from orchestrator_dynamic.observability import tracing

log = structlog.get_logger(__name__)
DECODED_MAX = 1024


@runtime_checkable
class ChangeFeed(Protocol):
    """A registry that can tell when its workers change (optional, beside WorkerRegistry)."""

    def on_change(self, listener: Callable[[], Awaitable[None]]) -> None: ...


@dataclass(frozen=True)
class Query:
    """One discovery request; its fields make up the cache key."""

    capabilities: tuple[str, ...]
    namespace: str | None = None
    security_level: SecurityLevel | None = None
    max_results: int = 100

    def key(self) -> str:
        caps = ",".join(sorted(self.capabilities))
        return f"discovery:{self.namespace or '*'}:{self.security_level or '*'}:{self.max_results}:{caps}"


@dataclass(frozen=True)
class Discovered:
    workers: list[WorkerProfile]
    fallback: bool = False


def encode_workers(workers: Sequence[WorkerProfile]) -> bytes:
    return json.dumps([_worker_doc(w) for w in workers], separators=(",", ":")).encode()


def decode_workers(raw: bytes) -> list[WorkerProfile]:
    return [_worker_of(doc) for doc in json.loads(raw)]


def _worker_doc(w: WorkerProfile) -> dict[str, Any]:
    t = w.telemetry
    return {
        "id": w.worker_id,
        "caps": sorted(w.capabilities),
        "health": w.health.value,
        "ns": w.namespace,
        "sec": w.security_level.value,
        "max": w.max_concurrent_tasks,
        "active": w.active_tasks,
        "tel": [t.success_rate, t.duration_score, t.experience],
    }


def _worker_of(doc: dict[str, Any]) -> WorkerProfile:
    return WorkerProfile(
        worker_id=doc["id"],
        capabilities=frozenset(doc["caps"]),
        health=Health(doc["health"]),
        namespace=doc["ns"],
        security_level=SecurityLevel(doc["sec"]),
        max_concurrent_tasks=doc["max"],
        active_tasks=doc["active"],
        telemetry=WorkerTelemetry(*doc["tel"]),
    )


class CachedDiscovery:
    """Ask the registry at most once per ``ttl_seconds`` for the same query (0 disables it)."""

    def __init__(
        self,
        registry: WorkerRegistry,
        cache: Cache,
        ttl_seconds: float,
        local_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._cache = cache
        self._ttl = ttl_seconds
        self._local_s = min(local_seconds, ttl_seconds)
        self._clock = clock
        self._leased: dict[str, tuple[float, list[WorkerProfile]]] = {}  # key -> (until, workers)
        self._known_healthy: dict[str, WorkerProfile] = {}
        # Decoding is most of a warm allocation's cost: reuse the last decode of each entry
        # while the cached bytes are unchanged.
        self._decoded: dict[str, tuple[bytes, list[WorkerProfile]]] = {}
        # Keys this process wrote, to drop on a change; a shared cache is emptied by every
        # replica for its own keys (each watches the registry).
        self._stored: set[str] = set()
        self._generation = 0
        if isinstance(registry, ChangeFeed):
            registry.on_change(self.invalidate)

    async def invalidate(self) -> None:
        """Forget every cached answer: the registry changed."""
        self._generation += 1
        self._decoded.clear()
        self._leased.clear()
        keys, self._stored = self._stored, set()
        for key in keys:
            try:
                await self._cache.delete(key)
            except CacheUnavailable as exc:  # the TTL retires what is left
                log.warning("discovery_cache_unavailable", reason=str(exc))
                break
        log.debug("discovery_cache_invalidated", entries=len(keys))

    async def discover(self, query: Query) -> Discovered:
        cached = await self._cached(query)
        if cached is not None:
            m.WORKERS_DISCOVERED.set(len(cached))
            return Discovered(cached)
        generation = self._generation
        try:
            with tracing.registry_span(
                "discover", query.capabilities, query.namespace, query.max_results
            ) as span:
                workers = await self._registry.discover(
                    query.capabilities,
                    namespace=query.namespace,
                    security_level=query.security_level,
                    max_results=query.max_results,
                )
                span.set_attribute("registry.workers_found", len(workers))
        except RegistryUnavailable as exc:
            return self._fallback(query, exc)
        self._remember(workers)
        if generation == self._generation:  # else the answer may predate a change: don't keep it
            await self._store(query, workers)
        m.WORKERS_DISCOVERED.set(len(workers))
        return Discovered(workers)

    async def _cached(self, query: Query) -> list[WorkerProfile] | None:
        if self._ttl <= 0:
            return None
        leased = self._leased.get(query.key()) if self._local_s > 0 else None
        if leased is not None and self._clock() < leased[0]:
            m.CACHE_HITS.labels("hit").inc()
            return leased[1]
        try:
            raw = await self._cache.get(query.key())
        except CacheUnavailable as exc:  # the cache is an optimisation: go to the registry
            log.warning("discovery_cache_unavailable", reason=str(exc))
            raw = None
        m.CACHE_HITS.labels("hit" if raw is not None else "miss").inc()
        if raw is None:
            return None
        return self._lease(query.key(), self._decode(query.key(), raw))

    def _lease(self, key: str, workers: list[WorkerProfile]) -> list[WorkerProfile]:
        if self._local_s > 0:
            if len(self._leased) >= DECODED_MAX:
                self._leased.clear()
            self._leased[key] = (self._clock() + self._local_s, workers)
        return workers

    def _decode(self, key: str, raw: bytes) -> list[WorkerProfile]:
        seen = self._decoded.get(key)
        if seen is not None and (seen[0] is raw or seen[0] == raw):
            return seen[1]
        if len(self._decoded) >= DECODED_MAX:
            self._decoded.clear()
        workers = decode_workers(raw)
        self._decoded[key] = (raw, workers)
        return workers

    async def _store(self, query: Query, workers: list[WorkerProfile]) -> None:
        if self._ttl <= 0:
            return
        self._lease(query.key(), workers)
        try:
            await self._cache.set(query.key(), encode_workers(workers), self._ttl)
            self._stored.add(query.key())
        except CacheUnavailable as exc:
            log.warning("discovery_cache_unavailable", reason=str(exc))

    def _remember(self, workers: list[WorkerProfile]) -> None:
        for worker in workers:
            if worker.health is Health.HEALTHY:
                self._known_healthy[worker.worker_id] = worker
            else:
                self._known_healthy.pop(worker.worker_id, None)

    def _fallback(self, query: Query, exc: RegistryUnavailable) -> Discovered:
        log.warning("registry_unavailable_fallback", reason=str(exc))
        m.DISCOVERY_FAILURES.labels("registry_unavailable").inc()
        need = set(query.capabilities)
        known = [w for w in self._known_healthy.values() if need <= w.capabilities]
        known.sort(key=lambda w: w.worker_id)
        return Discovered(known[: query.max_results], fallback=True)

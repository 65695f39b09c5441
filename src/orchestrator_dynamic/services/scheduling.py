"""C3 allocation: filter -> score -> pick, with capacity reservation and an explanation.

Scores follow ARCHITECTURE.md "Fixed rules" (domain/scoring.py). Every allocation says which
workers were considered, which were filtered out and why, and how each eligible one scored.
Capacity lives in the Cache port (``capacity:<worker>`` counters), so several orchestrator
replicas sharing Redis never overfill a worker.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from orchestrator_dynamic.domain.errors import CacheUnavailable
from orchestrator_dynamic.domain.ml import predictions_of
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import Allocation, Cache, Scheduler, WorkerRegistry
from orchestrator_dynamic.domain.scoring import (
    PriorityWeights,
    WorkerProfile,
    agent_score,
    deadline_consumed,
    ineligibility,
    ml_boost,
    priority_score,
    reason_kind,
    worker_score,
)
from orchestrator_dynamic.observability import scheduler_metrics as m
from orchestrator_dynamic.services.discovery import CachedDiscovery, Query

log = structlog.get_logger(__name__)
EXPLAIN_TOP = 10
RESERVATION_TTL_S = 24 * 3600.0


class _AlreadyReserved(Exception):
    def __init__(self, worker_id: str | None) -> None:
        super().__init__(worker_id)
        self.worker_id = worker_id


@dataclass(frozen=True)
class Candidate:
    worker: WorkerProfile
    reason: str | None
    agent: float
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker.worker_id,
            "capabilities": sorted(self.worker.capabilities),
            "health": self.worker.health.value,
            "security_level": self.worker.security_level.value,
            "namespace": self.worker.namespace,
            "eligible": self.reason is None,
            "reason": self.reason,
            "agent_score": round(self.agent, 4),
            "worker_score": round(self.score, 4),
        }


@dataclass
class SchedulerConfig:
    weights: PriorityWeights = field(default_factory=PriorityWeights)
    intelligent: bool = True
    max_results: int = 100
    cache_ttl_seconds: float = 60.0


def ticket_namespace(ticket: ExecutionTicket) -> str | None:
    """The namespace a ticket must run in, when its plan names one."""
    return ticket.metadata.get("namespace") or ticket.parameters.get("namespace") or None


class IntelligentScheduler:
    """Implements the Scheduler port; ``intelligent=False`` rotates over eligible workers."""

    def __init__(
        self,
        registry: WorkerRegistry,
        cache: Cache,
        config: SchedulerConfig | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._cache = cache
        self._config = config or SchedulerConfig()
        self._discovery = CachedDiscovery(registry, cache, self._config.cache_ttl_seconds)
        self._round_robin = itertools.count()
        self._clock = clock

    async def allocate(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        *,
        intelligent: bool | None = None,
        weights: PriorityWeights | None = None,
    ) -> Allocation:
        started = self._clock()
        smart = self._config.intelligent and intelligent is not False
        allocation = await self._allocate(ticket, now_ms, smart, weights or self._config.weights)
        m.ALLOCATION_DURATION.observe(self._clock() - started)
        m.ALLOCATIONS.labels(allocation.method).inc()
        m.PRIORITY_SCORE.observe(allocation.priority_score)
        return allocation

    async def _allocate(
        self, ticket: ExecutionTicket, now_ms: int, smart: bool, weights: PriorityWeights
    ) -> Allocation:
        consumed = deadline_consumed(ticket.created_at, ticket.sla.deadline, now_ms)
        priority = ml_priority(
            ticket, priority_score(ticket.risk_band, ticket.qos, consumed, weights)
        )
        reserved = await self._cache.get(f"reservation:{ticket.ticket_id}")
        if reserved is not None:  # a retried C3: keep the first answer and its capacity
            return Allocation(ticket.ticket_id, reserved.decode(), "reserved", priority)
        found = await self._discovery.discover(self._query(ticket))
        ranked = self._rank(ticket, found.workers, priority, smart)
        try:
            chosen = await self._pick(ticket, ranked)
        except _AlreadyReserved as taken:  # a concurrent C3 of the same ticket won
            return Allocation(ticket.ticket_id, taken.worker_id, "reserved", priority)
        method = self._method(chosen, found.fallback, smart)
        explanation = _explanation(ticket, chosen, method, priority, ranked)
        worker_id = chosen.worker.worker_id if chosen else None
        return Allocation(ticket.ticket_id, worker_id, method, priority, explanation)

    def _query(self, ticket: ExecutionTicket) -> Query:
        return Query(
            tuple(ticket.required_capabilities),
            ticket_namespace(ticket),
            ticket.security_level,
            self._config.max_results,
        )

    def _method(self, chosen: Candidate | None, fallback: bool, smart: bool) -> str:
        if chosen is None:
            return "unassigned"
        if fallback:
            m.FALLBACKS.inc()
            return "fallback"
        return "intelligent" if smart else "round_robin"

    def _rank(
        self, ticket: ExecutionTicket, workers: list[WorkerProfile], priority: float, smart: bool
    ) -> list[Candidate]:
        need = frozenset(ticket.required_capabilities)
        namespace = ticket_namespace(ticket)
        out = []
        for worker in workers:
            reason = ineligibility(worker, need, ticket.security_level, namespace)
            agent = agent_score(worker)
            out.append(Candidate(worker, reason, agent, worker_score(agent, priority)))
        _count_rejections(out)
        # Best first; ties broken by id so the same fleet always gives the same answer.
        out.sort(key=lambda c: (c.reason is not None, -c.score, c.worker.worker_id))
        if not smart:
            out = self._rotate(out)
        return out

    def _rotate(self, ranked: list[Candidate]) -> list[Candidate]:
        """Round-robin: the eligible list in id order, shifted by one each allocation."""
        eligible = sorted((c for c in ranked if c.reason is None), key=lambda c: c.worker.worker_id)
        if not eligible:
            return ranked
        shift = next(self._round_robin) % len(eligible)
        return eligible[shift:] + eligible[:shift] + [c for c in ranked if c.reason is not None]

    async def _pick(self, ticket: ExecutionTicket, ranked: list[Candidate]) -> Candidate | None:
        for i, candidate in enumerate(ranked):
            if candidate.reason is not None:
                return None
            if await self._reserve(ticket.ticket_id, candidate.worker):
                return candidate
            m.REJECTIONS.labels("capacity").inc()
            ranked[i] = Candidate(candidate.worker, "at capacity", candidate.agent, candidate.score)
        return None

    async def _reserve(self, ticket_id: str, worker: WorkerProfile) -> bool:
        """INCR first, undo when over the limit: atomic on Redis, so replicas never overfill."""
        key = f"capacity:{worker.worker_id}"
        count = await self._cache.incr(key)
        if count > worker.max_concurrent_tasks:
            await self._cache.incr(key, -1)
            return False
        reservation = f"reservation:{ticket_id}"
        if not await self._cache.add(reservation, worker.worker_id.encode(), RESERVATION_TTL_S):
            # The same ticket was reserved meanwhile (two replicas, or a retried activity):
            # give this slot back so one ticket never holds two.
            await self._cache.incr(key, -1)
            holder = await self._cache.get(reservation)
            raise _AlreadyReserved(holder.decode() if holder else None)
        return True

    async def release(self, ticket_id: str, worker_id: str) -> None:
        """Give the slot back once, however many times the result is delivered."""
        # DEL is atomic: of two concurrent releases (a duplicate result) only one decrements.
        if not await self._cache.delete(f"reservation:{ticket_id}"):
            return  # never reserved, or already released
        if await self._cache.incr(f"capacity:{worker_id}", -1) < 0:
            await self._cache.set(f"capacity:{worker_id}", b"0")

    async def active_tasks(self, worker_id: str) -> int:
        """Slots currently reserved on ``worker_id`` (as counted by this scheduler's cache)."""
        raw = await self._cache.get(f"capacity:{worker_id}")
        return int(raw or b"0")


async def release_ended(scheduler: Scheduler, tickets: Iterable[ExecutionTicket]) -> None:
    """Free the slots of tickets no longer running. Results release their own slot; this
    catches those that never sent one (timed out, cancelled, halted), so capacity cannot leak.
    Release is idempotent, so a slot already given back is not given back twice."""
    for ticket in tickets:
        worker_id = ticket.metadata.get("worker_id")
        if not worker_id or ticket.status == TicketStatus.RUNNING:
            continue
        try:
            await scheduler.release(ticket.ticket_id, worker_id)
        except CacheUnavailable as exc:  # the reservation's TTL frees the slot eventually
            log.warning("release_failed", ticket_id=ticket.ticket_id, reason=str(exc))


def _count_rejections(ranked: list[Candidate]) -> None:
    kinds = Counter(reason_kind(c.reason) for c in ranked if c.reason is not None)
    for kind, count in kinds.items():
        m.REJECTIONS.labels(kind).inc(count)


def ml_priority(ticket: ExecutionTicket, base: float) -> float:
    """The specification's ML boost, from the predictions C3 put on the ticket (if any)."""
    predicted = predictions_of(ticket.metadata)
    if predicted is None:
        return base
    return ml_boost(
        base,
        estimated_ms=ticket.estimated_duration_ms,
        predicted_ms=predicted.duration_ms,
        anomaly=predicted.anomaly.is_anomaly,
    )


def _explanation(
    ticket: ExecutionTicket,
    chosen: Candidate | None,
    method: str,
    priority: float,
    ranked: list[Candidate],
) -> dict[str, Any]:
    return {
        "ticket_id": ticket.ticket_id,
        "worker_id": chosen.worker.worker_id if chosen else None,
        "allocation_method": method,
        "priority_score": round(priority, 4),
        "candidates": [c.as_dict() for c in ranked[:EXPLAIN_TOP]],
        "candidates_total": len(ranked),
        "eligible_total": sum(1 for c in ranked if c.reason is None),
        **_ml_explanation(ticket),
    }


def _ml_explanation(ticket: ExecutionTicket) -> dict[str, Any]:
    predicted = predictions_of(ticket.metadata)
    if predicted is None:
        return {}
    return {
        "ml": {
            "predicted_duration_ms": round(predicted.duration_ms),
            "estimated_duration_ms": ticket.estimated_duration_ms,
            "anomaly_type": predicted.anomaly.anomaly_type,
            "source": predicted.source,
        }
    }

"""C3 allocation: filter -> score -> pick, with capacity reservation and an explanation.

Scores follow ARCHITECTURE.md "Fixed rules" (domain/scoring.py). Every allocation says which
workers were considered, which were filtered out and why, and how each eligible one scored.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from orchestrator_dynamic.domain.errors import RegistryUnavailable
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Allocation, Cache, WorkerRegistry
from orchestrator_dynamic.domain.scoring import (
    Health,
    PriorityWeights,
    WorkerProfile,
    agent_score,
    deadline_consumed,
    ineligibility,
    priority_score,
    worker_score,
)

log = structlog.get_logger(__name__)
EXPLAIN_TOP = 10
RESERVATION_TTL_S = 24 * 3600.0


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


class IntelligentScheduler:
    def __init__(
        self,
        registry: WorkerRegistry,
        cache: Cache,
        config: SchedulerConfig | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._registry = registry
        self._cache = cache
        self._config = config or SchedulerConfig()
        self._known_healthy: dict[str, WorkerProfile] = {}
        self._round_robin = itertools.count()
        self._clock = clock

    async def allocate(self, ticket: ExecutionTicket, now_ms: int) -> Allocation:
        reserved = await self._cache.get(f"reservation:{ticket.ticket_id}")
        consumed = deadline_consumed(ticket.created_at, ticket.sla.deadline, now_ms)
        priority = priority_score(ticket.risk_band, ticket.qos, consumed, self._config.weights)
        if reserved is not None:  # a retried C3: keep the first answer and its capacity
            return Allocation(ticket.ticket_id, reserved.decode(), "reserved", priority)
        workers, method = await self._discover(ticket)
        ranked = self._rank(ticket, workers, priority)
        chosen = await self._pick(ticket, ranked)
        if chosen is None:
            method = "unassigned"
        elif not self._config.intelligent and method == "intelligent":
            method = "round_robin"
        return Allocation(
            ticket.ticket_id,
            chosen.worker.worker_id if chosen else None,
            method,
            priority,
            _explanation(ticket, chosen, method, priority, ranked),
        )

    async def _discover(self, ticket: ExecutionTicket) -> tuple[list[WorkerProfile], str]:
        try:
            workers = await self._registry.discover(
                ticket.required_capabilities, max_results=self._config.max_results
            )
        except RegistryUnavailable as exc:
            log.warning("registry_unavailable_fallback", reason=str(exc))
            need = set(ticket.required_capabilities)
            known = [w for w in self._known_healthy.values() if need <= w.capabilities]
            return known, "fallback"
        for worker in workers:
            if worker.health is Health.HEALTHY:
                self._known_healthy[worker.worker_id] = worker
        return workers, "intelligent"

    def _rank(
        self, ticket: ExecutionTicket, workers: list[WorkerProfile], priority: float
    ) -> list[Candidate]:
        need = frozenset(ticket.required_capabilities)
        out = []
        for worker in workers:
            reason = ineligibility(worker, need, ticket.security_level)
            agent = agent_score(worker)
            out.append(Candidate(worker, reason, agent, worker_score(agent, priority)))
        # Best first; ties broken by id so the same fleet always gives the same answer.
        out.sort(key=lambda c: (c.reason is not None, -c.score, c.worker.worker_id))
        if not self._config.intelligent:
            eligible = [c for c in out if c.reason is None]
            if eligible:
                shift = next(self._round_robin) % len(eligible)
                eligible = eligible[shift:] + eligible[:shift]
                out = eligible + [c for c in out if c.reason is not None]
        return out

    async def _pick(self, ticket: ExecutionTicket, ranked: list[Candidate]) -> Candidate | None:
        for i, candidate in enumerate(ranked):
            if candidate.reason is not None:
                return None
            if await self._reserve(ticket.ticket_id, candidate.worker):
                return candidate
            ranked[i] = Candidate(candidate.worker, "at capacity", candidate.agent, candidate.score)
        return None

    async def _reserve(self, ticket_id: str, worker: WorkerProfile) -> bool:
        """Atomic on Redis (INCR), so two replicas never overfill a worker."""
        key = f"capacity:{worker.worker_id}"
        count = await self._cache.incr(key)
        if count > worker.max_concurrent_tasks:
            await self._cache.incr(key, -1)
            return False
        await self._cache.set(
            f"reservation:{ticket_id}", worker.worker_id.encode(), RESERVATION_TTL_S
        )
        return True

    async def release(self, ticket_id: str, worker_id: str) -> None:
        key = f"reservation:{ticket_id}"
        if await self._cache.get(key) is None:
            return  # already released (a duplicate result) or never reserved
        await self._cache.delete(key)
        if await self._cache.incr(f"capacity:{worker_id}", -1) < 0:
            await self._cache.set(f"capacity:{worker_id}", b"0")


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
    }

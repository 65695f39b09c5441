"""C3 allocation: filter -> score -> pick, with capacity reservation and an explanation.

Scores follow ARCHITECTURE.md "Fixed rules" (domain/scoring.py). Every allocation says which
workers were considered, which were filtered out and why, and how each eligible one scored.
Capacity lives in the capacity ledger (the cache adapters implement it; on Redis every call is
one Lua script), so several orchestrator replicas sharing Redis never overfill a worker. The
ledger also holds each in-flight ticket's predicted duration: the reservation reads what the
candidates hold in the same round trip, from which C3 predicts each one's queue and load
(domain/queueing.py) and, among workers whose scores are close, prefers the one on which the
ticket is predicted to meet its deadline.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from orchestrator_dynamic.domain.errors import CacheUnavailable
from orchestrator_dynamic.domain.ml import TicketPredictions, predictions_of
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import (
    Allocation,
    LedgerCache,
    Reservation,
    Scheduler,
    SlotOffer,
    WorkerRegistry,
)
from orchestrator_dynamic.domain.queueing import (
    DEFAULT_SCORE_TOLERANCE,
    InFlight,
    TicketDuration,
    estimate,
    prefer,
    ticket_duration,
)
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
from orchestrator_dynamic.observability import tracing
from orchestrator_dynamic.services.allocation_explain import (
    EXPLAIN_TOP,
    Candidate,
    Placement,
    explanation,
    queue_explanation,
    queue_metadata,
    span_attributes,
)
from orchestrator_dynamic.services.discovery import CachedDiscovery, Query

log = structlog.get_logger(__name__)
RESERVATION_TTL_S = 24 * 3600.0
RANKED_MAX = 64  # rankings kept for reuse
OFFER_CHUNK = 32  # offers per further ledger call once the close ones were all full


@dataclass
class SchedulerConfig:
    weights: PriorityWeights = field(default_factory=PriorityWeights)
    intelligent: bool = True
    max_results: int = 100
    cache_ttl_seconds: float = 60.0
    # SCHEDULER_DEADLINE_SCORE_TOLERANCE: scores this close let the deadline decide.
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE
    # Over a shared cache: keep discovery answers in process this long too (0 = off).
    local_discovery_seconds: float = 0.0


def ticket_namespace(ticket: ExecutionTicket) -> str | None:
    """The namespace a ticket must run in, when its plan names one."""
    return ticket.metadata.get("namespace") or ticket.parameters.get("namespace") or None


class IntelligentScheduler:
    """Implements the Scheduler port; ``intelligent=False`` rotates over eligible workers."""

    def __init__(
        self,
        registry: WorkerRegistry,
        cache: LedgerCache,
        config: SchedulerConfig | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._cache = cache
        self._config = config or SchedulerConfig()
        self._discovery = CachedDiscovery(
            registry,
            cache,
            self._config.cache_ttl_seconds,
            self._config.local_discovery_seconds,
        )
        self._round_robin = itertools.count()
        self._clock = clock
        # Ranking depends only on the discovery answer, the ticket's needs and its priority:
        # reuse it while the (cached) answer is the same list object.
        self._ranked: dict[
            tuple[object, ...], tuple[list[WorkerProfile], tuple[Candidate, ...], Counter[str]]
        ] = {}

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
        with tracing.tracer().start_as_current_span(
            "scheduler.allocate", attributes={tracing.TICKET_ID: ticket.ticket_id}
        ) as span:
            allocation = await self._allocate(
                ticket, now_ms, smart, weights or self._config.weights
            )
            span.set_attributes(span_attributes(allocation))
        m.ALLOCATION_DURATION.observe(self._clock() - started)
        m.ALLOCATIONS.labels(allocation.method).inc()
        m.PRIORITY_SCORE.observe(allocation.priority_score)
        return allocation

    async def _allocate(
        self, ticket: ExecutionTicket, now_ms: int, smart: bool, weights: PriorityWeights
    ) -> Allocation:
        predicted = predictions_of(ticket.metadata)
        consumed = deadline_consumed(ticket.created_at, ticket.sla.deadline, now_ms)
        base = priority_score(ticket.risk_band, ticket.qos, consumed, weights)
        priority = ml_priority(ticket, base, predicted)
        found = await self._discovery.discover(self._query(ticket))
        ranked = self._rank(ticket, found.workers, priority, smart)
        placed = await self._place(ticket, ranked, predicted, now_ms, smart)
        if placed.already:  # a retried (or concurrent) C3 of the same ticket: keep its answer
            return Allocation(ticket.ticket_id, placed.worker_id, "reserved", priority)
        method = self._method(placed.chosen, found.fallback, smart)
        doc = explanation(ticket, placed, method, priority, ranked, predicted)
        doc["queue"] = queue_explanation(ticket, placed, now_ms, self._config.score_tolerance)
        return Allocation(
            ticket.ticket_id, placed.worker_id, method, priority, doc, queue_metadata(placed)
        )

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
        key = (id(workers), need, ticket.security_level, namespace, priority)
        seen = self._ranked.get(key)
        if seen is not None and seen[0] is workers:  # the same discovery answer, reused
            out, kinds = list(seen[1]), seen[2]
        else:
            out = []
            for worker in workers:
                reason = ineligibility(worker, need, ticket.security_level, namespace)
                agent = agent_score(worker)
                out.append(Candidate(worker, reason, agent, worker_score(agent, priority)))
            # Best first; ties broken by id so the same fleet always gives the same answer.
            out.sort(key=lambda c: (c.reason is not None, -c.score, c.worker.worker_id))
            kinds = Counter(reason_kind(c.reason) for c in out if c.reason is not None)
            if len(self._ranked) >= RANKED_MAX:
                self._ranked.clear()
            self._ranked[key] = (workers, tuple(out), kinds)
        for kind, count in kinds.items():
            m.REJECTIONS.labels(kind).inc(count)
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

    async def _place(
        self,
        ticket: ExecutionTicket,
        ranked: list[Candidate],
        predicted: TicketPredictions | None,
        now_ms: int,
        smart: bool,
    ) -> Placement:
        """One ledger round trip reserves the best offer with room and reads what the close
        candidates hold; a second one moves the ticket only when the deadline prefers another
        close worker. Asked even with no eligible worker: a retried C3 keeps its reservation."""
        duration = ticket_duration(
            predicted.duration_ms if predicted else None,
            predicted.source if predicted else None,
            ticket.estimated_duration_ms,
        )
        eligible = [c for c in ranked if c.reason is None]
        entry = InFlight(now_ms, duration.ms)
        res = await self._reserve(ticket.ticket_id, eligible, entry)
        if res.already:
            return Placement(res.worker_id, True, None, duration)
        self._mark(ranked, eligible, res, duration, now_ms, ticket.sla.deadline)
        if res.index is None:
            return Placement(None, False, None, duration)
        chosen = ranked[res.index]
        estimates = [c.queue for c in ranked[res.index : len(eligible)] if c.queue is not None]
        room = {e.worker_id: e.in_flight < e.slots for e in estimates}
        preference = prefer(estimates, self._config.score_tolerance, room) if smart else None
        if preference is None or not preference.changed:
            return Placement(chosen.worker.worker_id, False, chosen, duration, preference)
        target = next(c for c in ranked if c.worker.worker_id == preference.worker_id)
        offer = SlotOffer(target.worker.worker_id, target.worker.max_concurrent_tasks)
        holder = await self._cache.move(
            ticket.ticket_id, chosen.worker.worker_id, offer, entry, RESERVATION_TTL_S
        )
        if holder == target.worker.worker_id:
            m.DEADLINE_PREFERENCES.inc()
            return Placement(holder, False, target, duration, preference, moved=True)
        return Placement(chosen.worker.worker_id, False, chosen, duration, preference)

    async def _reserve(
        self, ticket_id: str, eligible: list[Candidate], entry: InFlight
    ) -> Reservation:
        """Offer the close candidates first (their loads are read in the same call); only when
        all of them are full, the rest in chunks. ``index`` is into ``eligible``."""
        offers = [SlotOffer(c.worker.worker_id, c.worker.max_concurrent_tasks) for c in eligible]
        read = self._read_count(eligible)
        res = await self._cache.reserve(
            ticket_id, offers[:read], entry, read=read, ttl_seconds=RESERVATION_TTL_S
        )
        start, loads = read, res.loads
        while not res.already and res.index is None and start < len(offers):
            chunk = offers[start : start + OFFER_CHUNK]
            res = await self._cache.reserve(
                ticket_id, chunk, entry, read=0, ttl_seconds=RESERVATION_TTL_S
            )
            if res.index is not None:
                loads = {**loads, **res.loads}
                return Reservation(res.worker_id, index=start + res.index, loads=loads)
            start += len(chunk)
        return res if res.already or res.index is not None else Reservation(None, loads=loads)

    def _read_count(self, eligible: list[Candidate]) -> int:
        """Loads to read: the close scores (the deadline may choose among them) and at least
        the explanation's top."""
        if not eligible:
            return 0
        floor = eligible[0].score - self._config.score_tolerance
        close = sum(1 for c in eligible if c.score >= floor)
        return min(len(eligible), max(close, EXPLAIN_TOP))

    @staticmethod
    def _mark(
        ranked: list[Candidate],
        eligible: list[Candidate],
        res: Reservation,
        duration: TicketDuration,
        now_ms: int,
        deadline_ms: int,
    ) -> None:
        """Offers before the reserved one were full; the ones read get their queue estimate."""
        full = len(eligible) if res.index is None else res.index
        if full:
            m.REJECTIONS.labels("capacity").inc(full)
        for i in range(full):
            c = ranked[i]
            ranked[i] = Candidate(c.worker, "at capacity", c.agent, c.score)
        for i in range(full, len(eligible)):
            c = ranked[i]
            load = res.loads.get(c.worker.worker_id)
            if load is None:
                continue
            queue = estimate(
                c.worker.worker_id,
                c.score,
                c.worker.max_concurrent_tasks,
                load,
                duration.ms,
                now_ms,
                deadline_ms,
            )
            ranked[i] = Candidate(c.worker, None, c.agent, c.score, queue)

    async def release(self, ticket_id: str, worker_id: str) -> None:
        """Give the slot back once, however many times the result is delivered."""
        # One atomic ledger call: of two concurrent releases (a duplicate result) only one wins.
        await self._cache.release_slot(ticket_id, worker_id)

    async def active_tasks(self, worker_id: str) -> int:
        """Slots currently reserved on ``worker_id`` (as counted by this scheduler's ledger)."""
        return (await self._cache.loads([worker_id]))[worker_id].count


def all_able_full(allocation: Allocation) -> bool:
    """No worker was chosen because the able ones were at capacity (not because none exists).

    Then C3 waits for capacity instead of publishing the ticket unassigned (the workflow, and
    the what-if simulator, ask again after ``CAPACITY_WAIT_MS``)."""
    candidates = allocation.explanation.get("candidates", [])
    return any(str(c.get("reason") or "").startswith("at capacity") for c in candidates)


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


def ml_priority(
    ticket: ExecutionTicket, base: float, predicted: TicketPredictions | None = None
) -> float:
    """The specification's ML boost, from the predictions C3 put on the ticket (if any)."""
    predicted = predicted or predictions_of(ticket.metadata)
    if predicted is None:
        return base
    return ml_boost(
        base,
        estimated_ms=ticket.estimated_duration_ms,
        predicted_ms=predicted.duration_ms,
        anomaly=predicted.anomaly.is_anomaly,
    )

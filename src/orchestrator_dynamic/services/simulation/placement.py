"""Placement policies: the real scheduler (intelligent or round-robin), and the what-if
predicted-duration-aware policy built on it.

predicted-duration-aware = the C3 ML step as production runs it (predictions on the ticket, the
specification's priority boost), then the real filter -> score -> pick; when every eligible
worker is full, instead of publishing the ticket unassigned (to wait for whichever worker frees
first), it reserves the worker whose slot the predicted durations of its work say frees first.
"""

from __future__ import annotations

from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Allocation
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.services import ml_steps
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.scheduling import (
    IntelligentScheduler,
    SchedulerConfig,
    ticket_namespace,
)
from orchestrator_dynamic.services.simulation.fleet import Fleet, SimCache, can_run

PREDICTED_METHOD = "predicted"


def real_scheduler(fleet: Fleet, cache: SimCache, intelligent: bool) -> IntelligentScheduler:
    """The production scheduler over the simulated registry; no discovery cache (the
    simulated registry answers from memory, and a TTL in wall time means nothing here)."""
    config = SchedulerConfig(intelligent=intelligent, cache_ttl_seconds=0.0)
    return IntelligentScheduler(fleet, cache, config)


class PredictedScheduler:
    """The Scheduler port: the real scheduler, plus a reservation by predicted wait when full."""

    def __init__(self, fleet: Fleet, cache: SimCache, predictor: MLPredictor) -> None:
        self._inner = real_scheduler(fleet, cache, intelligent=True)
        self._fleet = fleet
        self._cache = cache
        self._predictor = predictor

    async def allocate(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        *,
        intelligent: bool | None = None,
        weights: PriorityWeights | None = None,
    ) -> Allocation:
        predicted = ml_steps.with_predictions(self._predictor, [ticket])[0]
        allocation = await self._inner.allocate(predicted, now_ms, weights=weights)
        if allocation.worker_id is not None:
            return allocation
        worker_id = self._soonest_free(predicted, now_ms)
        if worker_id is None:
            return allocation
        # Over the limit on purpose: the ticket waits in that worker's queue.
        await self._cache.incr(f"capacity:{worker_id}")
        await self._cache.set(f"reservation:{ticket.ticket_id}", worker_id.encode())
        return Allocation(
            ticket.ticket_id, worker_id, PREDICTED_METHOD, allocation.priority_score, {}
        )

    def _soonest_free(self, ticket: ExecutionTicket, now_ms: int) -> str | None:
        needs = (
            frozenset(ticket.required_capabilities),
            ticket_namespace(ticket),
            ticket.security_level,
        )
        best: tuple[float, str] | None = None
        for worker_id, state in self._fleet.workers.items():
            if not can_run(state.profile, needs):
                continue
            key = (self._fleet.expected_wait_ms(state, now_ms), worker_id)
            best = key if best is None or key < best else best
        return best[1] if best else None

    async def release(self, ticket_id: str, worker_id: str) -> None:
        await self._inner.release(ticket_id, worker_id)

    async def active_tasks(self, worker_id: str) -> int:
        return await self._inner.active_tasks(worker_id)

"""Placement policies: the real scheduler (intelligent or round-robin), and the what-if
predicted-duration-aware policy built on it, all over the capacity ledger of the run.

predicted-duration-aware = the C3 ML step as production runs it (predictions on the ticket, the
specification's priority boost), then the real filter -> score -> pick; when every eligible
worker is full, instead of waiting for capacity (C3 asked again every 2 s, as Flow C does), it
reserves the worker whose slot the predicted durations of its work say frees first.

The ledger is the real one (``LedgerCache``), made by the caller: services never import
adapters, so the entrypoint, tests and benchmarks pass a factory (``MemoryCache`` fits) that the
run calls with its virtual clock. Holders then expire, and loads are read, in simulated time.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator_dynamic.domain.ml import predictions_of
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Allocation, LedgerCache, SlotOffer
from orchestrator_dynamic.domain.queueing import InFlight, ticket_duration
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.services import ml_steps
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.scheduling import (
    RESERVATION_TTL_S,
    IntelligentScheduler,
    SchedulerConfig,
    ticket_namespace,
)
from orchestrator_dynamic.services.simulation.fleet import Fleet, can_run

PREDICTED_METHOD = "predicted"
# A ledger for one run, given the run's clock (virtual seconds, as a ledger's TTLs count them).
LedgerFactory = Callable[[Callable[[], float]], LedgerCache]
# The limit of the predicted policy's own offer: the worker is full on purpose, the ticket waits
# in its queue. Any count a run can reach is below it (it fits a Lua integer too).
NO_LIMIT = 2**31 - 1


def real_scheduler(
    fleet: Fleet, cache: LedgerCache, intelligent: bool, score_tolerance: float
) -> IntelligentScheduler:
    """The production scheduler over the simulated registry; no discovery cache (the
    simulated registry answers from memory and always shows the true load)."""
    config = SchedulerConfig(
        intelligent=intelligent, cache_ttl_seconds=0.0, score_tolerance=score_tolerance
    )
    return IntelligentScheduler(fleet, cache, config)


class PredictedScheduler:
    """The Scheduler port: the real scheduler, plus a reservation by predicted wait when full."""

    def __init__(
        self, fleet: Fleet, cache: LedgerCache, predictor: MLPredictor, score_tolerance: float
    ) -> None:
        self._inner = real_scheduler(fleet, cache, True, score_tolerance)
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
        # Over the limit on purpose: one offer without a limit, so the ledger holds the ticket
        # (with its predicted duration, which later loads on that worker count) and its release
        # gives the slot back as any other; the ticket waits in that worker's queue.
        predictions = predictions_of(predicted.metadata)
        duration = ticket_duration(
            predictions.duration_ms if predictions else None,
            predictions.source if predictions else None,
            predicted.estimated_duration_ms,
        )
        held = await self._cache.reserve(
            ticket.ticket_id,
            [SlotOffer(worker_id, NO_LIMIT)],
            InFlight(now_ms, duration.ms),
            read=0,
            ttl_seconds=RESERVATION_TTL_S,
        )
        return Allocation(
            ticket.ticket_id, held.worker_id, PREDICTED_METHOD, allocation.priority_score, {}
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

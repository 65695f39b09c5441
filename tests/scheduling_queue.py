"""A fleet and tickets where the deadline, not the score alone, should pick the worker: "best"
scores a little higher than "close" (within the default tolerance of 0.05), and three long
tickets already on "best" put 45 s of backlog per slot ahead of anything new there."""

from __future__ import annotations

from orchestrator_dynamic.domain.ml import AnomalyVerdict, TicketPredictions
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.scoring import WorkerProfile
from tests.scheduling_factory import T0, ticket, worker

SLOTS = 4
LONG_MS = 60_000


def fleet(cap: str, suffix: str = "") -> list[WorkerProfile]:
    return [
        worker(f"best{suffix}", {cap}, max_tasks=SLOTS, success_rate=1.0),
        worker(f"close{suffix}", {cap}, max_tasks=SLOTS, success_rate=0.95),
    ]


def long_ticket(cap: str) -> ExecutionTicket:
    """An hour to finish: fits anywhere, so it goes to the best score."""
    t = ticket(capabilities=[cap], timeout_ms=3_600_000)
    return t.model_copy(update={"estimated_duration_ms": LONG_MS})


def urgent_ticket(cap: str, predicted_ms: float = 10_000) -> ExecutionTicket:
    """Predicted 10 s, due in 30 s: late behind 45 s of backlog, on time on an idle worker."""
    predictions = TicketPredictions(
        duration_ms=predicted_ms,
        duration_confidence=0.8,
        resource_estimate={"cpu_m": 100, "memory_mb": 128},
        anomaly=AnomalyVerdict(),
        source="model:v7",
    )
    t = ticket(capabilities=[cap], timeout_ms=30_000, created_at=T0)
    return t.model_copy(
        update={"estimated_duration_ms": 9_000, "metadata": predictions.as_metadata()}
    )

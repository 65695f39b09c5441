"""Allocation outcomes for the ML side (`ml.allocation_outcomes`): where each ticket went, the
scores that put it there, and how long it was expected to take against how long it took.

Published once a ticket's attempt has ended (the workflow's final ticket records). Best
effort: the outcomes train models, so a bus outage is logged and counted, never fatal to a
workflow. Keyed by ticket id so a re-published outcome is recognisable as the same one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import structlog
from prometheus_client import Counter

from orchestrator_dynamic.domain.errors import BusUnavailable
from orchestrator_dynamic.domain.ml import predictions_of
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import Publisher

log = structlog.get_logger(__name__)

OUTCOMES = Counter(
    "orchestration_scheduler_allocation_outcomes_total",
    "Allocation outcomes published for the ML side, by result (published, lost)",
    ["result"],
)
RAN = {TicketStatus.COMPLETED, TicketStatus.COMPENSATING, TicketStatus.COMPENSATED}
ENDED = RAN | {TicketStatus.FAILED}


def outcome_doc(ticket: ExecutionTicket) -> dict[str, Any] | None:
    """The outcome of an allocated ticket whose attempt has ended; None otherwise."""
    worker_id = ticket.metadata.get("worker_id")
    if worker_id is None or ticket.status not in ENDED:
        return None
    chosen = _chosen_candidate(ticket.metadata.get("allocation_explanation"), worker_id)
    priority = ticket.metadata.get("priority_score")
    return {
        "ticket_id": ticket.ticket_id,
        "plan_id": ticket.plan_id,
        "workflow_id": ticket.workflow_id,
        "task_type": ticket.task_type.value,
        "risk_band": ticket.risk_band.value,
        "worker_id": worker_id,
        "allocation_method": ticket.metadata.get("allocation_method"),
        "priority_score": float(priority) if priority is not None else None,
        "agent_score": chosen.get("agent_score"),
        "worker_score": chosen.get("worker_score"),
        # The model's prediction when C3 made one, else the plan's estimate.
        "predicted_duration_ms": _predicted(ticket),
        # The chosen worker's queue and load as C3 predicted them (None before C3 did).
        "predicted_queue_ms": _number(ticket.metadata.get("predicted_queue_ms")),
        "predicted_load_pct": _number(ticket.metadata.get("predicted_load_pct")),
        "queue_duration_source": ticket.metadata.get("queue_duration_source"),
        "actual_duration_ms": ticket.actual_duration_ms,
        "success": ticket.status in RAN,
        "retry_count": ticket.retry_count,
        "timestamp": ticket.completed_at,
    }


def _predicted(ticket: ExecutionTicket) -> float | int | None:
    predicted = predictions_of(ticket.metadata)
    return round(predicted.duration_ms) if predicted else ticket.estimated_duration_ms


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _chosen_candidate(explanation: str | None, worker_id: str) -> dict[str, Any]:
    if not explanation:
        return {}
    try:
        doc = json.loads(explanation)
    except ValueError:
        return {}
    for candidate in doc.get("candidates", []):
        if candidate.get("worker_id") == worker_id:
            return dict(candidate)
    return {}


async def publish_outcomes(
    publisher: Publisher, topic: str, tickets: Iterable[ExecutionTicket]
) -> int:
    """Publish the outcome of every ended, allocated ticket; returns how many went out."""
    sent = 0
    for ticket in tickets:
        doc = outcome_doc(ticket)
        if doc is None:
            continue
        try:
            await publisher.publish(topic, json.dumps(doc).encode(), key=ticket.ticket_id)
        except BusUnavailable as exc:
            OUTCOMES.labels("lost").inc()
            log.warning("allocation_outcome_lost", ticket_id=ticket.ticket_id, reason=str(exc))
            continue
        OUTCOMES.labels("published").inc()
        sent += 1
    return sent

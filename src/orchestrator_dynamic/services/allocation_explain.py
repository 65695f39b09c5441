"""What C3 says about one allocation: the candidates with their scores (and, for those whose
load was read, their queue, load and predicted completion), the deadline reasoning, the
ticket metadata and the span attributes. JSON-ready; lands in ticket metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator_dynamic.domain.ml import TicketPredictions
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Allocation
from orchestrator_dynamic.domain.queueing import Preference, QueueEstimate, TicketDuration
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.observability import tracing

EXPLAIN_TOP = 10


@dataclass(frozen=True)
class Candidate:
    worker: WorkerProfile
    reason: str | None
    agent: float
    score: float
    queue: QueueEstimate | None = None

    def as_dict(self) -> dict[str, Any]:
        doc = {
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
        if self.queue is not None:
            doc.update(self.queue.as_dict())
        return doc


@dataclass(frozen=True)
class Placement:
    """Where the ledger put the ticket, and the queue reasoning behind it."""

    worker_id: str | None
    already: bool
    chosen: Candidate | None
    duration: TicketDuration
    preference: Preference | None = None
    moved: bool = False


def explanation(
    ticket: ExecutionTicket,
    placed: Placement,
    method: str,
    priority: float,
    ranked: list[Candidate],
    predicted: TicketPredictions | None,
) -> dict[str, Any]:
    return {
        "ticket_id": ticket.ticket_id,
        "worker_id": placed.worker_id,
        "allocation_method": method,
        "priority_score": round(priority, 4),
        "candidates": [c.as_dict() for c in ranked[:EXPLAIN_TOP]],
        "candidates_total": len(ranked),
        "eligible_total": sum(1 for c in ranked if c.reason is None),
        **ml_explanation(ticket, predicted),
    }


def queue_explanation(
    ticket: ExecutionTicket, placed: Placement, now_ms: int, score_tolerance: float
) -> dict[str, Any]:
    """The deadline reasoning: the ticket's own duration (and its source), which workers were
    close, which one the score alone would have taken, and why the pick changed (if it did)."""
    pref = placed.preference
    chosen = placed.chosen.queue if placed.chosen else None
    doc: dict[str, Any] = {
        "now_ms": now_ms,
        "deadline_ms": ticket.sla.deadline,
        "ticket_duration_ms": placed.duration.ms,
        "duration_source": placed.duration.source,
        "score_tolerance": score_tolerance,
        "close": list(pref.close) if pref else [],
        "changed": placed.moved,
        "reason": pref.reason if pref else "no queue estimate",
    }
    if placed.moved and pref is not None:
        doc["score_pick"] = pref.close[0] if pref.close else None
    elif pref is not None and pref.changed:  # preferred, but it filled up meanwhile
        doc["reason"] = f"{pref.reason}; it filled up meanwhile, kept the best score"
    if chosen is not None:
        doc.update(chosen.as_dict())
    return doc


def queue_metadata(placed: Placement) -> dict[str, str]:
    """``predicted_queue_ms`` / ``predicted_load_pct`` of the chosen worker, as strings."""
    queue = placed.chosen.queue if placed.chosen else None
    if queue is None:
        return {}
    return {
        "predicted_queue_ms": str(queue.queue_ms),
        "predicted_load_pct": f"{queue.load_pct:.1f}",
        "predicted_completion_ms": str(queue.completion_ms),
        "queue_duration_source": placed.duration.source,
    }


def span_attributes(allocation: Allocation) -> dict[str, str | int | float | bool]:
    attrs: dict[str, str | int | float | bool] = {
        "scheduler.allocation_method": allocation.method,
        "scheduler.priority_score": round(allocation.priority_score, 4),
    }
    if allocation.worker_id:
        attrs[tracing.WORKER_ID] = allocation.worker_id
    meta = allocation.metadata
    if "predicted_queue_ms" in meta:
        attrs["neural.hive.ml.predicted_queue_ms"] = int(meta["predicted_queue_ms"])
        attrs["neural.hive.ml.predicted_load_pct"] = float(meta["predicted_load_pct"])
        attrs["neural.hive.ml.queue_source"] = meta["queue_duration_source"]
    return attrs


def ml_explanation(ticket: ExecutionTicket, predicted: TicketPredictions | None) -> dict[str, Any]:
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

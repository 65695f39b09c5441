"""The ML side of the Flow C steps: predictions on tickets before C3 scores them, the model's
accuracy for the policies' ``predictive_allocation`` flag, and the feedback of finished tickets.

Predictions never block or fail an allocation: any error leaves the ticket as it was (and is
counted); the registry is only ever read in the background (services.ml.predictor).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from orchestrator_dynamic.domain.ml import predictions_of
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.observability import tracing

if TYPE_CHECKING:
    from orchestrator_dynamic.services.ml.predictor import MLPredictor
    from orchestrator_dynamic.services.policy import PlanContext

log = structlog.get_logger(__name__)
PREDICTION_KEYS = ("predictions", "predicted_duration_ms", "anomaly_detected")


def with_predictions(
    ml: MLPredictor | None, tickets: Sequence[ExecutionTicket]
) -> list[ExecutionTicket]:
    """The tickets with their ``predictions`` in metadata (strings, as on the wire)."""
    if ml is None or not tickets:
        return list(tickets)
    try:
        ml.refresh_soon()
        predicted = ml.predict(tickets)
    except Exception as exc:
        from orchestrator_dynamic.observability import ml_metrics

        ml_metrics.PREDICTIONS.labels("duration", "error").inc(len(tickets))
        log.warning("ml_prediction_failed", reason=str(exc), error_type=type(exc).__name__)
        return list(tickets)
    out = []
    for ticket, p in zip(tickets, predicted, strict=True):
        with tracing.tracer().start_as_current_span(
            "ml.predict",
            attributes={
                tracing.TICKET_ID: ticket.ticket_id,
                "neural.hive.ml.predicted_duration_ms": round(p.duration_ms),
                "neural.hive.ml.duration_confidence": p.duration_confidence,
                "neural.hive.ml.anomaly_detected": p.anomaly.is_anomaly,
                "neural.hive.ml.anomaly_score": p.anomaly.anomaly_score,
                "neural.hive.ml.anomaly_type": p.anomaly.anomaly_type or "",
                "neural.hive.ml.source": p.source,
            },
        ):
            out.append(
                ticket.model_copy(update={"metadata": {**ticket.metadata, **p.as_metadata()}})
            )
    return out


def with_model_accuracy(ml: MLPredictor | None, context: PlanContext) -> PlanContext:
    """The policy input's ``context.model_accuracy`` (1 - MAE%/100 of the duration model)."""
    accuracy = ml.model_accuracy() if ml is not None else None
    if accuracy is None:
        return context
    return dataclasses.replace(context, signals={**context.signals, "model_accuracy": accuracy})


def prediction_metadata(ticket: ExecutionTicket) -> dict[str, str]:
    """The prediction keys a ticket carries, for the allocation's metadata."""
    return {k: ticket.metadata[k] for k in PREDICTION_KEYS if k in ticket.metadata}


def feed_back(ml: MLPredictor | None, ended: Sequence[ExecutionTicket]) -> None:
    """Prediction error and allocation quality of every finished ticket that had a prediction."""
    if ml is None:
        return
    for ticket in ended:
        if ticket.actual_duration_ms is None or predictions_of(ticket.metadata) is None:
            continue
        try:
            ml.observe_completed(ticket)
        except Exception as exc:
            log.warning("ml_feedback_failed", ticket_id=ticket.ticket_id, reason=str(exc))

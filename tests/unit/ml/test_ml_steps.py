"""The C3 side of ML as plain functions: the boost from a ticket's predictions, predictions that
never fail an allocation, the heuristic before any model, and feedback counted once."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.domain.ml import AnomalyVerdict, TicketPredictions, predictions_of
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.services import ml_steps
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.scheduling import ml_priority
from tests.unit.ml.test_ml_domain import history, make


def _with(ticket: ExecutionTicket, duration: float, anomaly: bool) -> ExecutionTicket:
    p = TicketPredictions(
        duration_ms=duration,
        duration_confidence=0.9,
        resource_estimate={"cpu_m": 1, "memory_mb": 1},
        anomaly=AnomalyVerdict(
            is_anomaly=anomaly, anomaly_type="qos_inconsistency" if anomaly else None
        ),
    )
    return ticket.model_copy(update={"metadata": {**ticket.metadata, **p.as_metadata()}})


def test_scheduler_boost_reads_the_ticket_predictions() -> None:
    plain = make(estimate=100_000)
    assert ml_priority(plain, 0.5) == 0.5  # no predictions: unchanged
    assert ml_priority(_with(plain, 120_000, False), 0.5) == 0.5
    assert ml_priority(_with(plain, 160_000, False), 0.5) == pytest.approx(0.6)
    assert ml_priority(_with(plain, 120_000, True), 0.5) == pytest.approx(0.6)
    assert ml_priority(_with(plain, 160_000, True), 0.5) == pytest.approx(0.7)
    assert ml_priority(_with(plain, 160_000, True), 0.9) == 1.0


def test_heuristic_before_any_model_says_so() -> None:
    predictor = MLPredictor(None)
    [ticket] = ml_steps.with_predictions(predictor, [make(estimate=50_000)])
    predicted = predictions_of(ticket.metadata)
    assert predicted is not None and predicted.source == "heuristic:estimate"
    assert predicted.duration_ms == 50_000
    predictor.use_history(history_stats_of_history())
    [ticket] = ml_steps.with_predictions(predictor, [make(estimate=50_000)])
    predicted = predictions_of(ticket.metadata)
    assert predicted is not None and predicted.source == "heuristic:history"
    assert predicted.duration_ms == pytest.approx(60_000)  # history runs 1.2 x the estimate


def history_stats_of_history():  # type: ignore[no-untyped-def]
    from orchestrator_dynamic.domain.ml import history_stats

    return history_stats(history())


class Broken(MLPredictor):
    def predict(self, tickets):  # type: ignore[no-untyped-def]
        raise RuntimeError("model exploded")


def test_a_failing_prediction_leaves_the_ticket_as_it_was() -> None:
    ticket = make()
    assert ml_steps.with_predictions(Broken(None), [ticket]) == [ticket]
    assert ml_steps.with_predictions(None, [ticket]) == [ticket]


def test_feedback_counts_a_ticket_once() -> None:
    predictor = MLPredictor(None)
    done = _with(
        make(actual=150_000, status=TicketStatus.COMPLETED, metadata={"worker_id": "w"}),
        100_000,
        False,
    )
    ml_steps.feed_back(predictor, [done, done])
    ml_steps.feed_back(predictor, [done])
    assert predictor.status()["live_samples"] == 1
    assert predictor.live_mae_pct == pytest.approx(50_000 / 150_000 * 100)
    assert not predictor.drifted(15.0)  # one ticket is not a trend

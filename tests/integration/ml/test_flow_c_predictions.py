"""Flow C end to end with ML on, on a real Temporal dev server: every ticket of a plan carries
predictions before C3 scores it, an anomalous ticket is boosted and counted, a completed
ticket moves the prediction-error metric, and a model registry that is down (MLflow on a port
nothing listens on) leaves allocation working with the models already loaded."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.ml.mlflow_registry import MlflowRegistry
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.ml import DURATION_MODEL, history_stats, predictions_of
from orchestrator_dynamic.domain.model import TicketStatus
from orchestrator_dynamic.domain.scoring import WorkerProfile, ml_boost, priority_score
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from orchestrator_dynamic.observability import ml_metrics as m
from orchestrator_dynamic.services.ml.history import History
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.ml.training import TrainingConfig, train
from orchestrator_dynamic.services.scheduling import IntelligentScheduler
from tests.conftest import decision_bytes
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig, settle
from tests.servers.redis import free_port

pytestmark = pytest.mark.integration


def _count(metric: Any, *labels: str) -> float:
    child = metric.labels(*labels) if labels else metric
    return float(child._value.get())


def _error_observations() -> float:
    for sample in m.PREDICTION_ERROR.collect()[0].samples:
        if sample.name.endswith("_count") and sample.labels.get("model_type") == "duration":
            return float(sample.value)
    return 0.0


async def test_tickets_carry_predictions_anomalies_are_boosted_and_feedback_flows(
    temporal_env: Any, sample: History
) -> None:
    trained = train(sample.tickets, TrainingConfig(min_samples=100, max_iter=60))
    down = MlflowRegistry(f"http://127.0.0.1:{free_port()}", "orchestrator-predictive-models")
    predictor = MLPredictor(down, cache_ttl_s=0.0)  # every C3 tries the registry again
    predictor.use(trained.duration, trained.anomaly, trained.report.duration.metrics)
    predictor.use_history(history_stats(sample.tickets))

    registry = BuiltinRegistry()
    caps = {"code_generation", "testing", "validation", "deployment"}
    await registry.register(WorkerProfile("agent-all", frozenset(caps)))
    scheduler = IntelligentScheduler(registry, MemoryCache())
    rig = FlowRig(temporal_env.client, FAST, lambda t: True, scheduler=scheduler, ml=predictor)
    anomalies_before = sum(
        _count(m.ANOMALIES, k)
        for k in (
            "capability_anomaly",
            "resource_mismatch",
            "qos_inconsistency",
            "duration_outlier",
        )
    )
    errors_before = _error_observations()
    load_errors_before = _count(m.MODEL_LOAD_ERRORS, DURATION_MODEL)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED

    dispatched = [t for t in rig.tickets_published() if t.status is TicketStatus.PENDING]
    assert len({t.ticket_id for t in dispatched}) == 5
    flagged = 0
    for ticket in dispatched:
        predicted = predictions_of(ticket.metadata)
        assert predicted is not None, ticket.metadata
        assert predicted.source.startswith("model:")
        assert predicted.duration_ms > 0 and 0 < predicted.duration_confidence <= 1
        assert set(predicted.resource_estimate) == {"cpu_m", "memory_mb"}
        assert ticket.metadata["predicted_duration_ms"] == str(round(predicted.duration_ms))
        assert ticket.metadata["anomaly_detected"] == str(predicted.anomaly.is_anomaly).lower()
        # Allocated within a second of creation: a tenth of the SLA window at most (urgency 0.3).
        base = priority_score(ticket.risk_band, ticket.qos, 0.0)
        boosted = ml_boost(
            base,
            estimated_ms=ticket.estimated_duration_ms,
            predicted_ms=predicted.duration_ms,
            anomaly=predicted.anomaly.is_anomaly,
        )
        assert float(ticket.metadata["priority_score"]) == pytest.approx(boosted, abs=1e-4)
        # C3's queue and load on the chosen worker, from the predictions of what it holds.
        assert int(ticket.metadata["predicted_queue_ms"]) >= 0
        assert 0 <= float(ticket.metadata["predicted_load_pct"]) <= 100
        assert ticket.metadata["queue_duration_source"] == predicted.source
        if predicted.anomaly.is_anomaly:
            flagged += 1
            assert boosted > base
    # The plan's capabilities (code_generation, testing, ...) are never seen for these task
    # types in the platform's history: capability anomalies.
    assert flagged >= 1
    anomalies_after = sum(
        _count(m.ANOMALIES, k)
        for k in (
            "capability_anomaly",
            "resource_mismatch",
            "qos_inconsistency",
            "duration_outlier",
        )
    )
    assert anomalies_after - anomalies_before >= flagged
    assert _error_observations() - errors_before >= 5  # one per completed ticket
    assert predictor.live_mae_pct is not None
    # The registry never answered (the reload runs beside C3, never in its way), and
    # allocation went on with the loaded models.
    await settle(lambda: _count(m.MODEL_LOAD_ERRORS, DURATION_MODEL) > load_errors_before)

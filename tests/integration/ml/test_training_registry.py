"""Training, the registry and promotion on MLflow: the embedded default (SQLite and an artifact
directory, no server) and a real `mlflow server` started by the test on a free port. Small
samples and few boosting rounds keep this module to seconds of fitting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator_dynamic.adapters.ml.mlflow_registry import MlflowRegistry
from orchestrator_dynamic.domain.errors import ModelRegistryUnavailable
from orchestrator_dynamic.domain.ml import ANOMALY_MODEL, DURATION_MODEL
from orchestrator_dynamic.observability import ml_metrics as m
from orchestrator_dynamic.services.ml.history import History
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.ml.training import (
    InsufficientHistory,
    TrainingConfig,
    train,
)
from tests.servers.mlflow import mlflow_server
from tests.servers.redis import free_port

pytestmark = pytest.mark.integration
FAST = TrainingConfig(min_samples=100, max_iter=80)


def _load_errors(name: str) -> float:
    return m.MODEL_LOAD_ERRORS.labels(name)._value.get()


def test_too_little_history_is_refused(sample: History) -> None:
    with pytest.raises(InsufficientHistory, match="at least 1000"):
        train(sample.tickets, TrainingConfig(min_samples=1000))


def test_embedded_registry_promotes_good_models_and_keeps_production(
    tmp_path: Path, sample: History, labelled: History
) -> None:
    registry = MlflowRegistry.embedded(tmp_path, "orchestrator-predictive-models")
    assert registry.production(DURATION_MODEL) is None
    steps: list[str] = []
    first = train(sample.tickets + labelled.tickets, FAST, registry, labelled.labels, steps.append)
    report = first.report
    assert steps == [
        "statistics",
        "anomaly detector",
        "duration predictor",
        "evaluation",
        "registry",
    ]
    assert report.duration.metrics["mae_pct"] < 15
    assert report.anomaly_evaluation == "labelled"
    assert report.anomaly.metrics["precision"] > 0.75
    assert report.duration.promoted and report.anomaly.promoted, report
    production = registry.production(DURATION_MODEL)
    assert production is not None and production.version == report.duration.version
    assert production.metrics["mae_pct"] == pytest.approx(report.duration.metrics["mae_pct"])
    assert (tmp_path / "mlflow" / "mlflow.db").exists()

    # A worse model (two boosting rounds), even under a lenient threshold, is logged as a new
    # version but production stays where it was.
    lenient = TrainingConfig(min_samples=100, max_iter=2, error_threshold=0.99)
    second = train(sample.tickets, lenient, registry).report
    assert second.duration.version != report.duration.version
    assert not second.duration.promoted
    assert second.duration.reason.startswith("worse than production")
    assert registry.production(DURATION_MODEL).version == report.duration.version  # type: ignore[union-attr]

    # Over the threshold: never promoted.
    strict = TrainingConfig(min_samples=100, max_iter=80, error_threshold=0.01)
    assert not train(sample.tickets, strict, registry).report.duration.promoted


async def test_predictor_loads_production_and_survives_a_registry_outage(
    tmp_path: Path, sample: History, labelled: History
) -> None:
    registry = MlflowRegistry.embedded(tmp_path, "orchestrator-predictive-models")
    train(sample.tickets + labelled.tickets, FAST, registry, labelled.labels)
    predictor = MLPredictor(registry, cache_ttl_s=0.0)
    await predictor.refresh()
    assert predictor.status()["duration_version"] == "1"
    anomalous = [t for t in labelled.tickets if labelled.labels[t.ticket_id]][:3]
    first = predictor.predict(anomalous)
    assert all(p.source == "model:v1" for p in first)
    assert all(p.anomaly.is_anomaly for p in first)

    # The registry's database goes away: the loaded models stay in use, the failure is counted.
    (tmp_path / "mlflow" / "mlflow.db").unlink()
    before = _load_errors(DURATION_MODEL)
    broken = MlflowRegistry(f"http://127.0.0.1:{free_port()}", "x")
    predictor._registry = broken  # the same predictor, now pointed at a registry that is down
    await predictor.refresh()
    assert _load_errors(DURATION_MODEL) == before + 1
    assert predictor.predict(anomalous) == first


def test_a_registry_that_is_down_is_a_domain_error() -> None:
    registry = MlflowRegistry(f"http://127.0.0.1:{free_port()}", "orchestrator-predictive-models")
    with pytest.raises(ModelRegistryUnavailable, match="mlflow unavailable"):
        registry.production(DURATION_MODEL)


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


async def test_real_tracking_server(
    tracking_server: str, sample: History, labelled: History
) -> None:
    registry = MlflowRegistry(tracking_server, "orchestrator-predictive-models")
    report = train(sample.tickets + labelled.tickets, FAST, registry, labelled.labels).report
    assert report.duration.promoted and report.anomaly.promoted, report
    for name in (DURATION_MODEL, ANOMALY_MODEL):
        production = registry.production(name)
        assert production is not None and production.metrics
    predictor = MLPredictor(registry, cache_ttl_s=0.0)
    await predictor.refresh()
    assert predictor.status()["anomaly_version"] == report.anomaly.version
    predicted = predictor.predict(sample.tickets[:5])
    assert all(p.source == f"model:v{report.duration.version}" for p in predicted)

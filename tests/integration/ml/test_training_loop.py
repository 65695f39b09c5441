"""The service's training loop, running: it trains from the store's history, registers and
promotes on the embedded MLflow registry, and the predictor takes the new production version;
a live MAE% above the threshold over the last completed tickets starts a run by itself, once
per drift. Real SQLite store and MLflow (embedded); the loop checks every 50 ms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from orchestrator_dynamic.adapters.ml.mlflow_registry import MlflowRegistry
from orchestrator_dynamic.adapters.store.sqlite import SqliteStore
from orchestrator_dynamic.domain.ml import DURATION_MODEL, AnomalyVerdict, TicketPredictions
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Collection, ModelRegistry
from orchestrator_dynamic.observability import ml_metrics as m
from orchestrator_dynamic.services.ml.history import History
from orchestrator_dynamic.services.ml.loop import TrainingLoop
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.ml.training import TrainingConfig, train
from tests.fakes import settle

pytestmark = pytest.mark.integration
FAST = TrainingConfig(min_samples=100, max_iter=60)
EXPERIMENT = "orchestrator-predictive-models"


@pytest.fixture
async def store(tmp_path: Path, sample: History) -> AsyncIterator[SqliteStore]:
    """The sample history as the flow stores finished tickets."""
    db = SqliteStore(tmp_path / "store.db")
    await db.start()
    for t in sample.tickets:
        doc = t.model_dump(mode="json")
        doc["timestamp"] = t.completed_at or t.created_at
        await db.put(Collection.TICKETS, t.ticket_id, doc)
    yield db
    await db.stop()


def history_end(sample: History) -> Callable[[], int]:
    end = max(t.completed_at or t.created_at for t in sample.tickets) + 1
    return lambda: end


def loop_of(
    store: SqliteStore, registry: ModelRegistry | None, predictor: MLPredictor, sample: History
) -> TrainingLoop:
    return TrainingLoop(
        store,
        registry,
        predictor,
        FAST,
        window_days=60,
        interval_s=3600.0,  # only the start and a drift can start a run in these tests
        clock_ms=history_end(sample),
        check_every_s=0.05,
        drift_min=20,
    )


def runs(result: str) -> float:
    return float(m.TRAINING_RUNS.labels(result)._value.get())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_running_loop_trains_from_the_store_promotes_and_the_predictor_follows(
    tmp_path: Path, sample: History, store: SqliteStore
) -> None:
    registry = MlflowRegistry.embedded(tmp_path, EXPERIMENT)
    # A poor production model (two boosting rounds) that a real training should beat.
    poor = train(
        sample.tickets, TrainingConfig(min_samples=100, max_iter=2, error_threshold=0.99), registry
    ).report.duration
    assert poor.promoted and poor.version is not None
    predictor = MLPredictor(registry, cache_ttl_s=3600.0)
    await predictor.refresh()
    assert predictor.loaded.duration_version is not None
    assert predictor.loaded.duration_version.version == poor.version

    trained_before = runs("trained")
    task = asyncio.create_task(loop_of(store, registry, predictor, sample).run_forever())
    try:
        await settle(lambda: runs("trained") > trained_before, 60)
        production = registry.production(DURATION_MODEL)
        assert production is not None and production.version != poor.version
        assert production.metrics["mae_pct"] < poor.metrics["mae_pct"]
        # The loop reloads production after its run: C3's next prediction uses the new version.
        await settle(
            lambda: (
                predictor.loaded.duration_version is not None
                and predictor.loaded.duration_version.version == production.version
            )
        )
        [predicted] = predictor.predict(sample.tickets[:1])
        assert predicted.source == f"model:v{production.version}"
    finally:
        await stop(task)


def completed_badly(ticket: ExecutionTicket) -> ExecutionTicket:
    """A completed ticket whose prediction was ten times what it took."""
    actual = ticket.actual_duration_ms or 1_000
    predictions = TicketPredictions(
        duration_ms=10.0 * actual,
        duration_confidence=0.9,
        resource_estimate={"cpu_m": 100, "memory_mb": 128},
        anomaly=AnomalyVerdict(),
        source="model:v1",
    )
    return ticket.model_copy(update={"metadata": predictions.as_metadata()})


async def test_a_drifting_live_error_starts_one_training_run(
    sample: History, store: SqliteStore
) -> None:
    predictor = MLPredictor(None, live_window=40)  # no registry: the run's models are used here
    task = asyncio.create_task(loop_of(store, None, predictor, sample).run_forever())
    try:
        start = runs("trained")
        await settle(lambda: predictor.loaded.duration is not None, 60)  # the run at start
        first = predictor.loaded.duration
        assert runs("trained") == start + 1
        drifts = m.DRIFT_RETRAININGS._value.get()
        await asyncio.sleep(0.3)  # no drift yet: no run
        assert runs("trained") == start + 1

        completed = [t for t in sample.tickets if t.actual_duration_ms][:40]
        for t in completed[:10]:  # under drift_min completed tickets: not evidence enough
            predictor.observe_completed(completed_badly(t))
        await asyncio.sleep(0.3)
        assert runs("trained") == start + 1
        for t in completed[10:]:
            predictor.observe_completed(completed_badly(t))
        assert predictor.live_mae_pct is not None and predictor.live_mae_pct > 15
        await settle(lambda: runs("trained") == start + 2, 60)
        assert m.DRIFT_RETRAININGS._value.get() == drifts + 1
        await settle(lambda: predictor.loaded.duration is not first)
        assert predictor.status()["live_samples"] == 0  # the drift was acted on: forgotten
        await asyncio.sleep(0.5)  # ten checks later, still one run per drift
        assert runs("trained") == start + 2
    finally:
        await stop(task)

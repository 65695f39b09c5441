"""The service's periodic training: every ML_TRAINING_INTERVAL_HOURS, and sooner when the live
MAE% over the last completed tickets drifts above ML_DURATION_ERROR_THRESHOLD. Trains from the
store's finished tickets within ML_TRAINING_WINDOW_DAYS, only when ML_MIN_TRAINING_SAMPLES exist.
Fitting runs in a worker thread: the event loop (and so C3) keeps going meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.ml import history_stats
from orchestrator_dynamic.domain.ports import ModelRegistry, Store
from orchestrator_dynamic.observability import ml_metrics as m
from orchestrator_dynamic.services.ml.history import finished_from_store
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.ml.training import InsufficientHistory, TrainingConfig, train

log = structlog.get_logger(__name__)
DAY_MS = 86_400_000


@dataclass
class TrainingLoop:
    store: Store
    registry: ModelRegistry | None
    predictor: MLPredictor
    config: TrainingConfig
    window_days: int
    interval_s: float
    clock_ms: Callable[[], int]
    check_every_s: float = 60.0
    stats_ttl_s: float = 3600.0  # ML_FEATURE_CACHE_TTL_SECONDS: the heuristic's statistics
    drift_min: int = 50  # completed tickets in the live MAE% before it may trigger a run

    async def refresh_stats(self) -> None:
        """Per-type statistics for the heuristic, from the store (cheap next to training)."""
        since = self.clock_ms() - self.window_days * DAY_MS
        try:
            tickets = await finished_from_store(self.store, since)
        except OrchestratorError as exc:
            log.warning("ml_history_unavailable", reason=str(exc))
            return
        if tickets:
            self.predictor.use_history(history_stats(tickets))

    async def run_forever(self) -> None:
        await self.predictor.refresh()  # production models first, then history for the heuristic
        last = await self.train_once()
        stats_at = time.monotonic()
        while True:
            await asyncio.sleep(self.check_every_s)
            if time.monotonic() - stats_at >= self.stats_ttl_s:
                await self.refresh_stats()
                stats_at = time.monotonic()
            due = time.monotonic() - last >= self.interval_s
            drifted = self.predictor.drifted(self.config.error_threshold * 100, self.drift_min)
            if due or drifted:
                if drifted:
                    log.info("ml_drift_retraining", live_mae_pct=self.predictor.live_mae_pct)
                    m.DRIFT_RETRAININGS.inc()
                last = await self.train_once()
                # The live errors judged the models before this run: a new drift needs new
                # evidence, else a run that changes nothing would repeat at every check.
                self.predictor.reset_live()

    async def train_once(self) -> float:
        """One training from the store; returns when it ran (monotonic), whatever happened."""
        started = time.monotonic()
        since = self.clock_ms() - self.window_days * DAY_MS
        try:
            tickets = await finished_from_store(self.store, since)
            if tickets:
                self.predictor.use_history(history_stats(tickets))
            trained = await asyncio.to_thread(train, tickets, self.config, self.registry)
        except InsufficientHistory as exc:
            m.TRAINING_RUNS.labels("skipped").inc()
            log.info("ml_training_skipped", reason=str(exc))
            return started
        except Exception as exc:  # a failed run is counted and alerted; the loop goes on
            m.TRAINING_RUNS.labels("failed").inc()
            log.warning("ml_training_failed", reason=str(exc), error_type=type(exc).__name__)
            return started
        report = trained.report
        m.TRAINING_RUNS.labels("trained").inc()
        m.LAST_TRAINING.set(time.time())
        log.info(
            "ml_trained",
            samples=report.samples,
            seconds=report.seconds,
            mae_pct=report.duration.metrics.get("mae_pct"),
            precision=report.anomaly.metrics.get("precision"),
            duration_promoted=report.duration.promoted,
            anomaly_promoted=report.anomaly.promoted,
        )
        if report.notes or self.registry is None:
            # No registry, or it was down: use what was just trained, in this process.
            self.predictor.use(trained.duration, trained.anomaly, report.duration.metrics)
        else:
            await self.predictor.refresh()
        return started

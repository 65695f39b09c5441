"""Predictions at allocation time and the feedback from completed tickets.

Never raises and never waits on the registry: production models are (re)loaded in the
background once ``cache_ttl_s`` has passed, and a registry that is down leaves the last loaded
models in use. With no model yet the heuristic of ``domain.ml`` answers and says so
(``source``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from orchestrator_dynamic.domain.errors import ModelRegistryUnavailable
from orchestrator_dynamic.domain.ml import (
    ANOMALY_MODEL,
    DURATION_MODEL,
    AnomalyVerdict,
    HistoryStats,
    TicketPredictions,
    anomaly_rules,
    heuristic_duration,
    prediction_error_ms,
    resource_estimate,
)
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import ModelRegistry, ModelVersion
from orchestrator_dynamic.observability import ml_metrics as m
from orchestrator_dynamic.services.ml.models import AnomalyModel, DurationModel, loads

log = structlog.get_logger(__name__)


@dataclass
class Loaded:
    duration: DurationModel | None = None
    anomaly: AnomalyModel | None = None
    duration_version: ModelVersion | None = None
    anomaly_version: ModelVersion | None = None


class MLPredictor:
    def __init__(
        self,
        registry: ModelRegistry | None,
        cache_ttl_s: float = 3600.0,
        live_window: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._ttl = cache_ttl_s
        self._clock = clock
        self._loaded = Loaded()
        self._loaded_at: float | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._history: HistoryStats | None = None
        self._live: deque[tuple[float, float]] = deque(maxlen=live_window)  # (|error|, actual)
        # A finished ticket may be reported more than once (replays, later frames): count once.
        self._seen: deque[str] = deque(maxlen=10 * live_window)
        self._local_metrics: dict[str, float] = {}

    # ---------------------------------------------------------------- models

    @property
    def registry(self) -> ModelRegistry | None:
        return self._registry

    @property
    def loaded(self) -> Loaded:
        return self._loaded

    def use(
        self,
        duration: DurationModel | None,
        anomaly: AnomalyModel | None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """Models trained in this process (no registry round trip needed)."""
        self._local_metrics = dict(metrics or {})
        self._loaded = Loaded(
            duration, anomaly, self._loaded.duration_version, self._loaded.anomaly_version
        )
        self._loaded_at = self._clock()

    def use_history(self, stats: HistoryStats) -> None:
        """Per-type statistics for the heuristic before any model exists."""
        self._history = stats

    def refresh_soon(self) -> None:
        """Start a background reload when the cache has expired; never waits for it."""
        if self._registry is None or (self._refreshing and not self._refreshing.done()):
            return
        if self._loaded_at is not None and self._clock() - self._loaded_at < self._ttl:
            return
        self._refreshing = asyncio.get_running_loop().create_task(self.refresh())

    async def refresh(self) -> None:
        """Load the production versions that changed; on failure keep what is loaded."""
        if self._registry is None:
            return
        registry = self._registry
        loaded = self._loaded
        for name in (DURATION_MODEL, ANOMALY_MODEL):
            current = loaded.duration_version if name == DURATION_MODEL else loaded.anomaly_version
            try:
                version = await asyncio.to_thread(registry.production, name)
                if version is None or (current and current.version == version.version):
                    continue
                model = loads(await asyncio.to_thread(registry.load, version))
            except (ModelRegistryUnavailable, ValueError, EOFError, AttributeError) as exc:
                m.MODEL_LOAD_ERRORS.labels(name).inc()
                log.warning("ml_model_load_failed", model=name, reason=str(exc))
                continue
            if isinstance(model, DurationModel) and name == DURATION_MODEL:
                loaded = Loaded(model, loaded.anomaly, version, loaded.anomaly_version)
            elif isinstance(model, AnomalyModel) and name == ANOMALY_MODEL:
                loaded = Loaded(loaded.duration, model, loaded.duration_version, version)
            log.info("ml_model_loaded", model=name, version=version.version)
        self._loaded = loaded
        self._loaded_at = self._clock()

    # ---------------------------------------------------------------- predictions

    def predict(self, tickets: Sequence[ExecutionTicket]) -> list[TicketPredictions]:
        """One prediction per ticket, in one batch (the models' cost is per call, not per row)."""
        if not tickets:
            return []
        started = time.perf_counter()
        loaded = self._loaded
        durations, sources, confidences = self._durations(tickets, loaded)
        verdicts = self._anomalies(tickets, loaded)
        out = []
        for ticket, duration, source, confidence, verdict in zip(
            tickets, durations, sources, confidences, verdicts, strict=True
        ):
            out.append(
                TicketPredictions(
                    duration_ms=round(duration, 1),
                    duration_confidence=confidence,
                    resource_estimate=resource_estimate(ticket, duration),
                    anomaly=verdict,
                    source=source,
                )
            )
            if verdict.is_anomaly and verdict.anomaly_type:
                m.ANOMALIES.labels(verdict.anomaly_type).inc()
        per_ticket = (time.perf_counter() - started) / len(tickets)
        for _ in tickets:
            m.PREDICTION_DURATION.labels("duration").observe(per_ticket)
        return out

    def _durations(
        self, tickets: Sequence[ExecutionTicket], loaded: Loaded
    ) -> tuple[list[float], list[str], list[float]]:
        if loaded.duration is not None:
            try:
                values = loaded.duration.predict(tickets)
            except (ValueError, KeyError, TypeError) as exc:  # a ticket the features refuse
                m.FEATURE_EXTRACTION_ERRORS.inc()
                m.PREDICTIONS.labels("duration", "error").inc(len(tickets))
                log.warning("ml_duration_failed", reason=str(exc))
            else:
                m.PREDICTIONS.labels("duration", "success").inc(len(tickets))
                version = loaded.duration_version.version if loaded.duration_version else "local"
                confidences = [loaded.duration.confidence(t) for t in tickets]
                return values, [f"model:v{version}"] * len(tickets), confidences
        stats = self._history or (loaded.anomaly.stats if loaded.anomaly else None)
        guesses = [heuristic_duration(t, stats) for t in tickets]
        m.PREDICTIONS.labels("duration", "heuristic").inc(len(tickets))
        confidence = 0.5 if stats is not None else 0.3
        return [g[0] for g in guesses], [g[1] for g in guesses], [confidence] * len(tickets)

    def _anomalies(
        self, tickets: Sequence[ExecutionTicket], loaded: Loaded
    ) -> list[AnomalyVerdict]:
        if loaded.anomaly is not None:
            try:
                verdicts = loaded.anomaly.verdicts(tickets)
            except (ValueError, KeyError, TypeError) as exc:
                m.FEATURE_EXTRACTION_ERRORS.inc()
                m.PREDICTIONS.labels("anomaly", "error").inc(len(tickets))
                log.warning("ml_anomaly_failed", reason=str(exc))
            else:
                m.PREDICTIONS.labels("anomaly", "success").inc(len(tickets))
                return verdicts
        stats = self._history
        if stats is None:
            return [AnomalyVerdict() for _ in tickets]
        m.PREDICTIONS.labels("anomaly", "heuristic").inc(len(tickets))
        out = []
        for ticket in tickets:
            hits = anomaly_rules(ticket, stats)
            if hits:
                top = hits[0]
                out.append(
                    AnomalyVerdict(
                        is_anomaly=True,
                        anomaly_score=0.5 + 0.5 * top.severity,
                        anomaly_type=top.kind,
                        explanation=top.explanation,
                    )
                )
            else:
                out.append(AnomalyVerdict())
        return out

    # ---------------------------------------------------------------- feedback

    def observe_completed(self, ticket: ExecutionTicket) -> float | None:
        """Feed one finished ticket back: the prediction error, the allocation quality and the
        live MAE%. Returns the error (actual - predicted) when the ticket carried a prediction."""
        if ticket.ticket_id in self._seen:
            return None
        self._seen.append(ticket.ticket_id)
        error = prediction_error_ms(ticket)
        success = ticket.status is TicketStatus.COMPLETED
        if error is None or ticket.actual_duration_ms is None:
            if ticket.metadata.get("worker_id"):
                m.ALLOCATION_QUALITY.observe(1.0 if success else 0.0)
            return None
        m.PREDICTION_ERROR.labels("duration").observe(error)
        actual = float(ticket.actual_duration_ms)
        relative = abs(error) / actual if actual else 1.0
        m.ALLOCATION_QUALITY.observe((0.5 + 0.5 / (1 + relative)) if success else 0.0)
        if success:
            self._live.append((abs(error), actual))
            m.MODEL_ACCURACY.labels(DURATION_MODEL, "live_mae_pct").set(self.live_mae_pct or 0.0)
        return error

    def model_accuracy(self) -> float | None:
        """1 - MAE%/100 of the duration model in use (None with no model)."""
        loaded = self._loaded
        if loaded.duration is None:
            return None
        metrics = loaded.duration_version.metrics if loaded.duration_version else {}
        mae_pct = metrics.get("mae_pct", self._local_metrics.get("mae_pct"))
        return None if mae_pct is None else round(max(0.0, 1 - mae_pct / 100), 4)

    @property
    def live_mae_pct(self) -> float | None:
        if not self._live:
            return None
        total = sum(a for _, a in self._live)
        return sum(e for e, _ in self._live) / len(self._live) / (total / len(self._live)) * 100

    def reset_live(self) -> None:
        """Forget the live errors: they judged the models before a retraining."""
        self._live.clear()

    def drifted(self, threshold_pct: float, min_samples: int = 50) -> bool:
        live = self.live_mae_pct
        return live is not None and len(self._live) >= min_samples and live > threshold_pct

    def status(self) -> dict[str, Any]:
        loaded = self._loaded
        return {
            "duration_version": loaded.duration_version.version
            if loaded.duration_version
            else None,
            "anomaly_version": loaded.anomaly_version.version if loaded.anomaly_version else None,
            "duration_loaded": loaded.duration is not None,
            "anomaly_loaded": loaded.anomaly is not None,
            "live_mae_pct": self.live_mae_pct,
            "live_samples": len(self._live),
        }

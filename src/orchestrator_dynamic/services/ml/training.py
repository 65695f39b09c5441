"""Training: finished tickets in, two evaluated models out, logged to the registry and promoted
only when they are good enough and not worse than production.

The split is by time (the newest ``holdout`` share is held out), as the models will be judged
on tickets that come later. Duration metrics are on held-out, completed tickets the anomaly
detector finds normal (an anomaly's duration is by definition not what the plan expected);
``mae_pct_all`` keeps every completed one. Anomaly precision and recall are on labelled tickets
when the history carries labels (``label`` beside the ticket, or ``ml train --labels``);
otherwise on held-out tickets plus copies of some of them made anomalous one kind at a time
(the history's own anomalies then count as false positives: a lower bound of precision).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog

from orchestrator_dynamic.domain.errors import ModelRegistryUnavailable
from orchestrator_dynamic.domain.ml import (
    ANOMALY_MODEL,
    DURATION_MODEL,
    HistoryStats,
    classification_metrics,
    finished_duration,
    history_stats,
    regression_metrics,
)
from orchestrator_dynamic.domain.model import (
    ExecutionTicket as Ticket,
)
from orchestrator_dynamic.domain.model import (
    QoS,
    RiskBand,
    TicketStatus,
)
from orchestrator_dynamic.domain.ports import ModelRegistry
from orchestrator_dynamic.observability import ml_metrics as m
from orchestrator_dynamic.services.ml.models import AnomalyModel, DurationModel, dumps, loads

log = structlog.get_logger(__name__)
Progress = Callable[[str], None]


class InsufficientHistory(Exception):
    def __init__(self, found: int, needed: int) -> None:
        super().__init__(f"{found} finished tickets with a duration, at least {needed} needed")
        self.found = found
        self.needed = needed


@dataclass(frozen=True)
class TrainingConfig:
    min_samples: int = 100
    contamination: float = 0.05
    error_threshold: float = 0.15  # duration MAE% must stay below this share (0.15 = 15 %)
    precision_threshold: float = 0.75
    holdout: float = 0.2
    max_iter: int = 300


@dataclass
class ModelOutcome:
    name: str
    metrics: dict[str, float]
    promoted: bool = False
    version: str | None = None
    reason: str = ""


@dataclass
class TrainingReport:
    samples: int
    trained_on: int
    held_out: int
    seconds: float
    duration: ModelOutcome
    anomaly: ModelOutcome
    anomaly_evaluation: str  # "labelled" or "injected"
    baseline_mae_pct: float  # mean duration per task type, same split
    registry: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Trained:
    report: TrainingReport
    duration: DurationModel
    anomaly: AnomalyModel


def train(
    tickets: Sequence[Ticket],
    config: TrainingConfig,
    registry: ModelRegistry | None = None,
    labels: Mapping[str, bool] | None = None,
    progress: Progress = lambda _step: None,
) -> Trained:
    """Fit, evaluate, log and (maybe) promote both models. Raises InsufficientHistory."""
    started = time.perf_counter()
    usable = sorted(
        (t for t in tickets if finished_duration(t) is not None), key=lambda t: t.created_at
    )
    if len(usable) < config.min_samples:
        raise InsufficientHistory(len(usable), config.min_samples)
    cut = max(1, int(len(usable) * (1 - config.holdout)))
    fit_set, held = usable[:cut], usable[cut:]
    progress("statistics")
    stats = history_stats(fit_set)
    progress("anomaly detector")
    t0 = time.perf_counter()
    anomaly = AnomalyModel.fit(fit_set, stats, config.contamination)
    m.TRAINING_DURATION.labels("anomaly").observe(time.perf_counter() - t0)
    progress("duration predictor")
    t0 = time.perf_counter()
    completed = [t for t in fit_set if t.status is TicketStatus.COMPLETED]
    duration = DurationModel.fit(completed, stats, config.max_iter)
    m.TRAINING_DURATION.labels("duration").observe(time.perf_counter() - t0)
    progress("evaluation")
    held_done = [t for t in held if t.status is TicketStatus.COMPLETED]
    normal = _normal(held_done, anomaly, labels)
    duration_metrics = _duration_metrics(duration, normal, held_done)
    duration.calibrate(normal, duration.predict(normal))
    anomaly_metrics, how = _anomaly_metrics(anomaly, held, labels, stats)
    report = TrainingReport(
        samples=len(usable),
        trained_on=len(fit_set),
        held_out=len(held),
        seconds=0.0,
        duration=ModelOutcome(DURATION_MODEL, duration_metrics),
        anomaly=ModelOutcome(ANOMALY_MODEL, anomaly_metrics),
        anomaly_evaluation=how,
        baseline_mae_pct=_baseline(fit_set, normal),
    )
    if registry is not None:
        progress("registry")
        _register(registry, report, duration, anomaly, normal, held, labels, stats, config)
    report.seconds = round(time.perf_counter() - started, 3)
    for outcome in (report.duration, report.anomaly):
        for metric, value in outcome.metrics.items():
            if metric != "samples":
                m.MODEL_ACCURACY.labels(outcome.name, metric).set(value)
    return Trained(report, duration, anomaly)


def _normal(
    held: list[Ticket], anomaly: AnomalyModel, labels: Mapping[str, bool] | None
) -> list[Ticket]:
    """Held-out tickets taken as normal: by their label, else by the detector."""
    known = labels or {}
    verdicts = anomaly.verdicts(held)
    return [
        t for t, v in zip(held, verdicts, strict=True) if not known.get(t.ticket_id, v.is_anomaly)
    ]


def _duration_metrics(
    model: DurationModel, normal: list[Ticket], held: list[Ticket]
) -> dict[str, float]:
    actual = [float(t.actual_duration_ms or 0) for t in normal]
    metrics = regression_metrics(actual, model.predict(normal))
    every = regression_metrics(
        [float(t.actual_duration_ms or 0) for t in held], model.predict(held)
    )
    metrics["mae_pct_all"] = every["mae_pct"]
    return {k: round(v, 4) for k, v in metrics.items()}


def _baseline(fit_set: list[Ticket], normal: list[Ticket]) -> float:
    by_type: dict[str, list[int]] = defaultdict(list)
    for t in fit_set:
        if t.status is TicketStatus.COMPLETED and t.actual_duration_ms:
            by_type[t.task_type.value].append(t.actual_duration_ms)
    means = {k: sum(v) / len(v) for k, v in by_type.items()}
    overall = sum(means.values()) / max(1, len(means))
    actual = [float(t.actual_duration_ms or 0) for t in normal]
    guess = [means.get(t.task_type.value, overall) for t in normal]
    return round(regression_metrics(actual, guess)["mae_pct"], 4)


def _anomaly_metrics(
    model: AnomalyModel,
    held: list[Ticket],
    labels: Mapping[str, bool] | None,
    stats: HistoryStats,
) -> tuple[dict[str, float], str]:
    labelled = [t for t in held if labels and t.ticket_id in labels]
    if labels and labelled:
        actual = [labels[t.ticket_id] for t in labelled]
        how, sample = "labelled", labelled
    else:
        injected = inject_anomalies(held, stats, share=1 / 3)
        sample = held + injected
        actual = [False] * len(held) + [True] * len(injected)
        how = "injected"
    flagged = [v.is_anomaly for v in model.verdicts(sample)]
    return {k: round(v, 4) for k, v in classification_metrics(actual, flagged).items()}, how


def inject_anomalies(held: list[Ticket], stats: HistoryStats, share: float) -> list[Ticket]:
    """Copies of held-out tickets made anomalous, one kind each, in equal numbers."""
    rng = random.Random(0)
    count = max(4, int(len(held) * share))
    chosen = [held[rng.randrange(len(held))] for _ in range(count)]
    every_capability = sorted({c for caps in stats.capability_share.values() for c in caps})
    out = []
    for i, ticket in enumerate(chosen):
        kind = i % 4
        doc: dict[str, Any] = {"ticket_id": f"{ticket.ticket_id}-injected-{i}"}
        if kind == 0:  # resource_mismatch: a low-risk ticket asking for very many capabilities
            doc["risk_band"] = RiskBand.LOW
            doc["required_capabilities"] = rng.sample(
                every_capability, min(len(every_capability), 9)
            )
        elif kind == 1:  # qos_inconsistency: critical work with at-most-once delivery
            doc["risk_band"] = RiskBand.CRITICAL
            doc["qos"] = QoS(
                delivery_mode="AT_MOST_ONCE", consistency="EVENTUAL", durability="PERSISTENT"
            )
        elif kind == 2:  # duration_outlier: an estimate some forty times the usual
            estimate = int((ticket.estimated_duration_ms or ticket.sla.timeout_ms / 3) * 40)
            doc["estimated_duration_ms"] = estimate
            doc["sla"] = ticket.sla.model_copy(update={"timeout_ms": estimate * 3})
        else:  # capability_anomaly: a capability the task type never asks for
            shares = stats.capability_share.get(ticket.task_type.value, {})
            foreign = [c for c in every_capability if shares.get(c, 0.0) == 0.0] or ["unheard-of"]
            doc["required_capabilities"] = [*ticket.required_capabilities, rng.choice(foreign)]
        out.append(ticket.model_copy(update=doc))
    return out


# ---------------------------------------------------------------- registry and promotion


def _register(
    registry: ModelRegistry,
    report: TrainingReport,
    duration: DurationModel,
    anomaly: AnomalyModel,
    normal: list[Ticket],
    held: list[Ticket],
    labels: Mapping[str, bool] | None,
    stats: HistoryStats,
    config: TrainingConfig,
) -> None:
    params = {
        "samples": str(report.samples),
        "trained_on": str(report.trained_on),
        "held_out": str(report.held_out),
        "contamination": str(config.contamination),
        "max_iter": str(config.max_iter),
        "anomaly_evaluation": report.anomaly_evaluation,
    }
    try:
        _register_duration(registry, report.duration, duration, normal, params, config)
        _register_anomaly(registry, report, anomaly, held, labels, stats, params, config)
    except ModelRegistryUnavailable as exc:
        report.notes.append(f"not registered: {exc}")
        log.warning("ml_registry_unavailable", reason=str(exc))


def _register_duration(
    registry: ModelRegistry,
    outcome: ModelOutcome,
    model: DurationModel,
    normal: list[Ticket],
    params: dict[str, str],
    config: TrainingConfig,
) -> None:
    metrics = outcome.metrics
    version = registry.log_version(DURATION_MODEL, params, metrics, dumps(model))
    outcome.version = version.version
    if metrics["mae_pct"] >= config.error_threshold * 100:
        outcome.reason = f"MAE% {metrics['mae_pct']:.2f} >= {config.error_threshold * 100:.0f}"
        return
    current = registry.production(DURATION_MODEL)
    if current is not None:
        theirs = _production_mae(registry, current, normal)
        if theirs is not None and metrics["mae_pct"] > theirs:
            outcome.reason = f"worse than production v{current.version} ({theirs:.2f} MAE%)"
            return
    registry.promote(DURATION_MODEL, version.version)
    outcome.promoted = True
    outcome.reason = "promoted"


def _production_mae(registry: ModelRegistry, current: Any, normal: list[Ticket]) -> float | None:
    """Production's MAE% on this very held-out split; its logged one if it cannot be loaded."""
    try:
        model = loads(registry.load(current))
    except (ValueError, ModelRegistryUnavailable, AttributeError, EOFError):
        logged = current.metrics.get("mae_pct")
        return float(logged) if logged is not None else None
    if not isinstance(model, DurationModel):
        return None
    actual = [float(t.actual_duration_ms or 0) for t in normal]
    return regression_metrics(actual, model.predict(normal))["mae_pct"]


def _register_anomaly(
    registry: ModelRegistry,
    report: TrainingReport,
    model: AnomalyModel,
    held: list[Ticket],
    labels: Mapping[str, bool] | None,
    stats: HistoryStats,
    params: dict[str, str],
    config: TrainingConfig,
) -> None:
    outcome = report.anomaly
    metrics = outcome.metrics
    version = registry.log_version(ANOMALY_MODEL, params, metrics, dumps(model))
    outcome.version = version.version
    if metrics["precision"] <= config.precision_threshold:
        outcome.reason = f"precision {metrics['precision']:.3f} <= {config.precision_threshold}"
        return
    current = registry.production(ANOMALY_MODEL)
    if current is not None:
        theirs = _production_f1(registry, current, held, labels, stats)
        if theirs is not None and metrics["f1"] + 1e-9 < theirs:
            outcome.reason = f"worse than production v{current.version} (F1 {theirs:.3f})"
            return
    registry.promote(ANOMALY_MODEL, version.version)
    outcome.promoted = True
    outcome.reason = "promoted"


def _production_f1(
    registry: ModelRegistry,
    current: Any,
    held: list[Ticket],
    labels: Mapping[str, bool] | None,
    stats: HistoryStats,
) -> float | None:
    try:
        model = loads(registry.load(current))
    except (ValueError, ModelRegistryUnavailable, AttributeError, EOFError):
        logged = current.metrics.get("f1")
        return float(logged) if logged is not None else None
    if not isinstance(model, AnomalyModel):
        return None
    metrics, _ = _anomaly_metrics(model, held, labels, stats)
    return metrics["f1"]

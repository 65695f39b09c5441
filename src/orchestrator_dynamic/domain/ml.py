"""What the ML side knows about a ticket at allocation time: features, history statistics, the
rule-named anomaly kinds, the heuristic used before any model exists, resource estimates and the
predictions' wire form (strings in ticket metadata). Pure: stdlib and Pydantic only.

Feature names follow the specification (risk weight, QoS scores, capability count, task type,
parameters size, estimate, SLA timeout, historical mean/std/success rate by task type and by risk
band, retry count, hour of day) plus what the platform's history supports: numeric task
parameters (``input_size_mb``), the hour as a position on the clock (sin/cos), and how rare the
ticket's capabilities are for its task type.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from orchestrator_dynamic.domain.model import (
    Consistency,
    DeliveryMode,
    Durability,
    ExecutionTicket,
    TaskType,
    TicketStatus,
)
from orchestrator_dynamic.domain.scoring import qos_score, risk_score

DURATION_MODEL = "ticket-duration-predictor"
ANOMALY_MODEL = "ticket-anomaly-detector"
ANOMALY_KINDS = ("resource_mismatch", "qos_inconsistency", "duration_outlier", "capability_anomaly")

TASK_TYPE_CODE: dict[str, int] = {t.value: i for i, t in enumerate(TaskType)}
DELIVERY_SCORE = {
    DeliveryMode.AT_MOST_ONCE: 0.5,
    DeliveryMode.AT_LEAST_ONCE: 0.7,
    DeliveryMode.EXACTLY_ONCE: 1.0,
}
CONSISTENCY_SCORE = {Consistency.EVENTUAL: 0.85, Consistency.STRONG: 1.0}
DURABILITY_SCORE = {Durability.TRANSIENT: 0.9, Durability.PERSISTENT: 1.0}
# Numeric task parameters the platform's plans carry and durations depend on.
NUMERIC_PARAMETERS = ("input_size_mb",)
HOUR_MS = 3_600_000
# Anomaly rules' limits (chosen on the labelled sample; see README "ML").
DURATION_OUTLIER_Z = 4.0
MIN_SPREAD = 0.3
RARE_CAPABILITY_SHARE = 0.01
RARE_QOS_SHARE = 0.10

FEATURES: tuple[str, ...] = (
    "risk_weight",
    "qos_delivery_score",
    "qos_consistency_score",
    "qos_durability_score",
    "qos_score",
    "capabilities_count",
    "capability_rarity",
    "task_type_encoded",
    "parameters_size",
    "input_size_mb",
    "estimated_duration_ms",
    "sla_timeout_ms",
    "avg_duration_by_task",
    "std_duration_by_task",
    "success_rate_by_task",
    "avg_duration_by_risk",
    "std_duration_by_risk",
    "success_rate_by_risk",
    "retry_count",
    "hour_of_day",
    "hour_sin",
    "hour_cos",
)


class GroupStats(BaseModel):
    """Durations of one group of finished tickets (a task type, a risk band)."""

    model_config = ConfigDict(frozen=True)

    count: int
    mean_ms: float
    std_ms: float
    success_rate: float
    log_median: float  # median of ln(duration): the heuristic's centre
    ratio_to_estimate: float = 1.0  # median actual / estimate where the estimate was known


class Spread(BaseModel):
    """A robust centre and spread (median, 1.4826 x MAD) of ln(value)."""

    model_config = ConfigDict(frozen=True)

    median: float
    spread: float


class HistoryStats(BaseModel):
    """Per-type and per-band statistics of the store's finished tickets: features, the
    heuristic and the anomaly rules read them. Learnt from history, never hard-coded, so they
    follow the platform as it changes."""

    model_config = ConfigDict(frozen=True)

    overall: GroupStats
    by_type: dict[str, GroupStats] = Field(default_factory=dict)
    by_risk: dict[str, GroupStats] = Field(default_factory=dict)
    estimate_by_type: dict[str, Spread] = Field(default_factory=dict)
    capability_share: dict[str, dict[str, float]] = Field(default_factory=dict)
    count_limit: dict[str, float] = Field(default_factory=dict)  # per risk band
    qos_share: dict[str, dict[str, float]] = Field(default_factory=dict)  # band -> qos -> share

    def task(self, task_type: str) -> GroupStats:
        return self.by_type.get(task_type, self.overall)

    def risk(self, band: str) -> GroupStats:
        return self.by_risk.get(band, self.overall)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> HistoryStats:
        return cls.model_validate_json(text)


def qos_key(ticket: ExecutionTicket) -> str:
    return f"{ticket.qos.delivery_mode.value}/{ticket.qos.consistency.value}"


def expected_ms(ticket: ExecutionTicket) -> float:
    """What the plan expects the ticket to take: its estimate, else a third of its timeout
    (C2 derives the timeout as three times the estimate, above a minimum)."""
    return float(ticket.estimated_duration_ms or ticket.sla.timeout_ms / 3)


def finished_duration(ticket: ExecutionTicket) -> int | None:
    """The duration a finished ticket took, when it has one worth learning from."""
    if ticket.status not in (TicketStatus.COMPLETED, TicketStatus.FAILED):
        return None
    if ticket.actual_duration_ms is None or ticket.actual_duration_ms <= 0:
        return None
    return ticket.actual_duration_ms


def _group(tickets: list[ExecutionTicket]) -> GroupStats:
    durations = [d for t in tickets if (d := finished_duration(t)) is not None]
    completed = sum(1 for t in tickets if t.status is TicketStatus.COMPLETED)
    ratios = [
        d / t.estimated_duration_ms
        for t in tickets
        if (d := finished_duration(t)) is not None and t.estimated_duration_ms
    ]
    if not durations:
        return GroupStats(
            count=0,
            mean_ms=60_000.0,
            std_ms=15_000.0,
            success_rate=0.95,
            log_median=math.log(60_000.0),
        )
    return GroupStats(
        count=len(durations),
        mean_ms=statistics.fmean(durations),
        std_ms=statistics.pstdev(durations),
        success_rate=completed / len(tickets),
        log_median=statistics.median(math.log(d) for d in durations),
        ratio_to_estimate=statistics.median(ratios) if ratios else 1.0,
    )


def _spread(values: list[float]) -> Spread:
    logs = [math.log(v) for v in values if v > 0]
    if not logs:
        return Spread(median=0.0, spread=1.0)
    centre = statistics.median(logs)
    mad = statistics.median(abs(x - centre) for x in logs)
    # Floor: a type whose estimates barely vary must still not flag a 30 % longer one.
    return Spread(median=centre, spread=max(1.4826 * mad, MIN_SPREAD))


def _quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def history_stats(tickets: Iterable[ExecutionTicket]) -> HistoryStats:
    """Statistics of finished tickets (pure; the training pipeline and the heuristic use it)."""
    finished = [t for t in tickets if finished_duration(t) is not None]
    by_type: dict[str, list[ExecutionTicket]] = defaultdict(list)
    by_risk: dict[str, list[ExecutionTicket]] = defaultdict(list)
    for t in finished:
        by_type[t.task_type.value].append(t)
        by_risk[t.risk_band.value].append(t)
    shares: dict[str, dict[str, float]] = {}
    for task_type, group in by_type.items():
        caps = Counter(c for t in group for c in set(t.required_capabilities))
        shares[task_type] = {c: n / len(group) for c, n in caps.items()}
    qos: dict[str, dict[str, float]] = {}
    limits: dict[str, float] = {}
    for band, group in by_risk.items():
        keys = Counter(qos_key(t) for t in group)
        qos[band] = {k: n / len(group) for k, n in keys.items()}
        # Well above the usual count for the band: the 95th percentile plus two.
        limits[band] = _quantile([len(t.required_capabilities) for t in group], 0.95) + 2
    return HistoryStats(
        overall=_group(finished),
        by_type={k: _group(v) for k, v in by_type.items()},
        by_risk={k: _group(v) for k, v in by_risk.items()},
        estimate_by_type={k: _spread([expected_ms(t) for t in v]) for k, v in by_type.items()},
        capability_share=shares,
        count_limit=limits,
        qos_share=qos,
    )


# ---------------------------------------------------------------- features


def numeric_parameter(ticket: ExecutionTicket, name: str) -> float:
    raw = ticket.parameters.get(name)
    if raw is None:
        return -1.0  # unknown, distinct from zero
    try:
        value = float(raw)
    except ValueError:
        return -1.0
    return value if math.isfinite(value) else -1.0


def capability_rarity(ticket: ExecutionTicket, stats: HistoryStats) -> float:
    """1 - the share of the ticket's task type carrying its rarest capability (0 = all usual)."""
    shares = stats.capability_share.get(ticket.task_type.value)
    if not ticket.required_capabilities or not shares:
        return 0.0
    return 1.0 - min(shares.get(c, 0.0) for c in ticket.required_capabilities)


def extract_features(ticket: ExecutionTicket, stats: HistoryStats) -> dict[str, float]:
    """The features of one ticket as it is at allocation time (no actual duration)."""
    task = stats.task(ticket.task_type.value)
    band = stats.risk(ticket.risk_band.value)
    hour = (ticket.created_at // HOUR_MS) % 24
    estimate = ticket.estimated_duration_ms
    return {
        "risk_weight": risk_score(ticket.risk_band),
        "qos_delivery_score": DELIVERY_SCORE[ticket.qos.delivery_mode],
        "qos_consistency_score": CONSISTENCY_SCORE[ticket.qos.consistency],
        "qos_durability_score": DURABILITY_SCORE[ticket.qos.durability],
        "qos_score": qos_score(ticket.qos),
        "capabilities_count": float(len(ticket.required_capabilities)),
        "capability_rarity": capability_rarity(ticket, stats),
        "task_type_encoded": float(TASK_TYPE_CODE[ticket.task_type.value]),
        "parameters_size": float(len(json.dumps(ticket.parameters, sort_keys=True))),
        "input_size_mb": numeric_parameter(ticket, "input_size_mb"),
        "estimated_duration_ms": float(estimate) if estimate else -1.0,
        "sla_timeout_ms": float(ticket.sla.timeout_ms),
        "avg_duration_by_task": task.mean_ms,
        "std_duration_by_task": task.std_ms,
        "success_rate_by_task": task.success_rate,
        "avg_duration_by_risk": band.mean_ms,
        "std_duration_by_risk": band.std_ms,
        "success_rate_by_risk": band.success_rate,
        "retry_count": float(ticket.retry_count),
        "hour_of_day": float(hour),
        "hour_sin": math.sin(2 * math.pi * hour / 24),
        "hour_cos": math.cos(2 * math.pi * hour / 24),
    }


def feature_vector(features: Mapping[str, float]) -> list[float]:
    return [features[name] for name in FEATURES]


# ---------------------------------------------------------------- heuristic and resources


def heuristic_duration(ticket: ExecutionTicket, stats: HistoryStats | None) -> tuple[float, str]:
    """The duration to expect before any model exists, and where it came from (``source``)."""
    if stats is not None and stats.task(ticket.task_type.value).count:
        group = stats.task(ticket.task_type.value)
        if ticket.estimated_duration_ms:  # the planner's estimate, corrected by history
            return ticket.estimated_duration_ms * group.ratio_to_estimate, "heuristic:history"
        return math.exp(group.log_median), "heuristic:history"
    if ticket.estimated_duration_ms:
        return float(ticket.estimated_duration_ms), "heuristic:estimate"
    return float(ticket.sla.timeout_ms) / 3, "heuristic:timeout"


# Per-type footprint of one worker slot (millicores, MiB) before scaling by duration.
BASE_RESOURCES: dict[str, tuple[int, int]] = {
    "BUILD": (1000, 1024),
    "TEST": (1000, 1024),
    "DEPLOY": (500, 512),
    "VALIDATE": (500, 512),
    "EXECUTE": (1000, 1024),
    "COMPENSATE": (500, 512),
    "QUERY": (250, 256),
    "TRANSFORM": (2000, 2048),
}
MAX_CPU_M = 4000
MAX_MEMORY_MB = 8192


def resource_estimate(ticket: ExecutionTicket, duration_ms: float) -> dict[str, int]:
    """CPU and memory the ticket will likely hold: a per-type base that grows with the log of
    the predicted minutes (long work is usually heavier work) and with its input size, capped
    at the resource policy's defaults."""
    cpu, memory = BASE_RESOURCES.get(ticket.task_type.value, (500, 512))
    factor = 1 + 0.25 * math.log2(1 + max(duration_ms, 0) / 60_000)
    size = max(numeric_parameter(ticket, "input_size_mb"), 0.0)
    return {
        "cpu_m": min(MAX_CPU_M, round(cpu * factor)),
        "memory_mb": min(MAX_MEMORY_MB, round(memory * factor + 2 * size)),
    }


# ---------------------------------------------------------------- anomaly rules


@dataclass(frozen=True)
class RuleHit:
    kind: str
    severity: float  # 0..1: how far past the rule's limit
    explanation: str


def anomaly_rules(ticket: ExecutionTicket, stats: HistoryStats) -> list[RuleHit]:
    """The named kinds of anomaly a ticket shows against history, most severe first."""
    hits: list[RuleHit] = []
    band = ticket.risk_band.value
    count = len(ticket.required_capabilities)
    limit = stats.count_limit.get(band)
    if band in ("low", "medium") and limit is not None and count > limit:
        hits.append(
            RuleHit(
                "resource_mismatch",
                min(1.0, (count - limit) / limit + 0.5),
                f"{count} capabilities for a {band}-risk ticket (usual at most {limit:.0f})",
            )
        )
    band_qos = stats.qos_share.get(band)
    if band_qos:
        share = band_qos.get(qos_key(ticket), 0.0)
        if share < RARE_QOS_SHARE:
            usual = max(band_qos.items(), key=lambda kv: kv[1])[0]
            hits.append(
                RuleHit(
                    "qos_inconsistency",
                    1.0 - share,
                    f"QoS {qos_key(ticket)} on a {band}-risk ticket (usual {usual})",
                )
            )
    spread = stats.estimate_by_type.get(ticket.task_type.value)
    if spread is not None:
        expected = expected_ms(ticket)
        z = (math.log(max(expected, 1.0)) - spread.median) / spread.spread
        if abs(z) > DURATION_OUTLIER_Z:
            typical = math.exp(spread.median)
            hits.append(
                RuleHit(
                    "duration_outlier",
                    min(1.0, abs(z) / (2 * DURATION_OUTLIER_Z)),
                    f"estimate {expected / 1000:.0f}s is {abs(z):.1f} spreads from "
                    f"{ticket.task_type.value}'s usual {typical / 1000:.0f}s",
                )
            )
    shares = stats.capability_share.get(ticket.task_type.value)
    if shares:
        rare = sorted(
            c for c in ticket.required_capabilities if shares.get(c, 0.0) < RARE_CAPABILITY_SHARE
        )
        if rare and not any(h.kind == "resource_mismatch" for h in hits):
            hits.append(
                RuleHit(
                    "capability_anomaly",
                    min(1.0, 0.5 + 0.25 * len(rare)),
                    f"capabilities unusual for {ticket.task_type.value}: " + ", ".join(rare),
                )
            )
    return sorted(hits, key=lambda h: -h.severity)


# ---------------------------------------------------------------- predictions


class AnomalyVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    is_anomaly: bool = False
    anomaly_score: float = 0.0
    anomaly_type: str | None = None
    explanation: str = "within the expected pattern"


class TicketPredictions(BaseModel):
    """The specification's ``predictions`` of one ticket."""

    model_config = ConfigDict(frozen=True)

    duration_ms: float
    duration_confidence: float
    resource_estimate: dict[str, int]
    anomaly: AnomalyVerdict = Field(default_factory=AnomalyVerdict)
    source: str = "model"  # "model:<version>" or "heuristic:<what>"

    def as_metadata(self) -> dict[str, str]:
        """On the wire: strings in ticket metadata (the Avro map is string -> string)."""
        return {
            "predictions": self.model_dump_json(),
            "predicted_duration_ms": str(round(self.duration_ms)),
            "anomaly_detected": "true" if self.anomaly.is_anomaly else "false",
        }


def predictions_of(metadata: Mapping[str, str]) -> TicketPredictions | None:
    """The predictions a ticket carries in its metadata, if any (malformed ones are ignored)."""
    raw = metadata.get("predictions")
    if not raw:
        return None
    try:
        return TicketPredictions.model_validate_json(raw)
    except ValueError:
        return None


def prediction_error_ms(ticket: ExecutionTicket) -> float | None:
    """Actual - predicted duration of a finished ticket that carried a prediction."""
    predicted = predictions_of(ticket.metadata)
    if predicted is None or ticket.actual_duration_ms is None:
        return None
    return ticket.actual_duration_ms - predicted.duration_ms


def regression_metrics(actual: list[float], predicted: list[float]) -> dict[str, float]:
    """MAE, RMSE, R² and MAE% (MAE / mean actual x 100, the specification's definition)."""
    n = len(actual)
    if n == 0:
        return {"mae": 0.0, "rmse": 0.0, "r2": 0.0, "mae_pct": 100.0, "samples": 0.0}
    errors = [a - p for a, p in zip(actual, predicted, strict=True)]
    mae = sum(abs(e) for e in errors) / n
    rmse = math.sqrt(sum(e * e for e in errors) / n)
    mean = sum(actual) / n
    total = sum((a - mean) ** 2 for a in actual)
    r2 = 1 - sum(e * e for e in errors) / total if total else 0.0
    return {
        "mae": mae,
        "rmse": rmse,
        "r2": r2,
        "mae_pct": mae / mean * 100 if mean else 100.0,
        "samples": float(n),
    }


def classification_metrics(actual: list[bool], flagged: list[bool]) -> dict[str, float]:
    tp = sum(1 for a, f in zip(actual, flagged, strict=True) if a and f)
    fp = sum(1 for a, f in zip(actual, flagged, strict=True) if f and not a)
    fn = sum(1 for a, f in zip(actual, flagged, strict=True) if a and not f)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "samples": float(len(actual))}

"""The two fitted models and their byte form for the registry.

Duration: gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor) on ln(duration),
so a ticket ten times longer than usual weighs like one ten times shorter, not a thousand times
more; the exponent of the prediction is the median-like duration to expect. Confidence per
prediction is 1 / (1 + the held-out relative error of its task type).

Anomalies: an IsolationForest (contamination ``ML_ANOMALY_CONTAMINATION``) over the features
that describe what a ticket asks for, beside the rule-named kinds of ``domain.ml.anomaly_rules``.
A ticket is anomalous when a rule names a kind, or when the forest isolates it as sharply as the
rarest ``contamination`` share of history and a feature explains it.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, IsolationForest

from orchestrator_dynamic.domain.ml import (
    FEATURES,
    AnomalyVerdict,
    HistoryStats,
    anomaly_rules,
    extract_features,
    feature_vector,
    finished_duration,
)
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.services.ml.fast_trees import FastIsolation, FastRegressor

FORMAT = 1
ANOMALY_FEATURES = (
    "risk_weight",
    "qos_score",
    "capabilities_count",
    "capability_rarity",
    "sla_timeout_ms",
)
FEATURE_KIND = {
    "risk_weight": "qos_inconsistency",
    "qos_score": "qos_inconsistency",
    "capabilities_count": "resource_mismatch",
    "capability_rarity": "capability_anomaly",
    "sla_timeout_ms": "duration_outlier",
}
# A forest-only flag needs a margin past the contamination cut: on the labelled sample the cut
# alone flags normal tickets, the margin none (README "ML").
FOREST_MARGIN = 0.05
_ANOMALY_COLUMNS = [FEATURES.index(n) for n in ANOMALY_FEATURES]


def matrix(tickets: Sequence[ExecutionTicket], stats: HistoryStats) -> np.ndarray:
    return np.array([feature_vector(extract_features(t, stats)) for t in tickets], dtype=float)


@dataclass
class DurationModel:
    stats: HistoryStats
    regressor: HistGradientBoostingRegressor
    relative_error: dict[str, float] = field(default_factory=dict)  # per task type, held out

    @classmethod
    def fit(
        cls, tickets: Sequence[ExecutionTicket], stats: HistoryStats, max_iter: int = 300
    ) -> DurationModel:
        usable = [t for t in tickets if finished_duration(t) is not None]
        target = np.log([float(finished_duration(t) or 1) for t in usable])
        # The task type as its code, not a categorical feature: the trees split it as well
        # here, and plain numeric splits are what FastRegressor evaluates.
        regressor = HistGradientBoostingRegressor(
            max_iter=max_iter, learning_rate=0.06, random_state=0
        )
        regressor.fit(matrix(usable, stats), target)
        return cls(stats, regressor)

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.exp(self._fast().predict(x))
        return out

    def _fast(self) -> FastRegressor:
        fast: FastRegressor | None = self.__dict__.get("_fast_regressor")
        if fast is None:
            fast = self.__dict__["_fast_regressor"] = FastRegressor(self.regressor)
        return fast

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_fast")}

    def predict(self, tickets: Sequence[ExecutionTicket]) -> list[float]:
        return [float(v) for v in self.predict_matrix(matrix(tickets, self.stats))]

    def calibrate(self, tickets: Sequence[ExecutionTicket], predicted: Sequence[float]) -> None:
        """Per-type median relative error on held-out tickets: the confidence's basis."""
        errors: dict[str, list[float]] = {}
        for ticket, guess in zip(tickets, predicted, strict=True):
            actual = finished_duration(ticket)
            if actual:
                errors.setdefault(ticket.task_type.value, []).append(abs(actual - guess) / actual)
        self.relative_error = {k: float(np.median(v)) for k, v in errors.items()}

    def confidence(self, ticket: ExecutionTicket) -> float:
        error = self.relative_error.get(ticket.task_type.value, 0.5)
        unknown_estimate = 0.9 if not ticket.estimated_duration_ms else 1.0
        return round(unknown_estimate / (1 + error), 4)


@dataclass
class AnomalyModel:
    stats: HistoryStats
    forest: IsolationForest
    # Per feature: centre and spread over history, to name the feature that isolates a ticket.
    centre: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)

    @classmethod
    def fit(
        cls, tickets: Sequence[ExecutionTicket], stats: HistoryStats, contamination: float
    ) -> AnomalyModel:
        x = _anomaly_view(matrix(tickets, stats))
        forest = IsolationForest(n_estimators=150, contamination=contamination, random_state=0)
        forest.fit(x)
        centre = np.median(x, axis=0)
        spread = np.median(np.abs(x - centre), axis=0) * 1.4826
        return cls(stats, forest, centre.tolist(), np.maximum(spread, 1e-3).tolist())

    def verdicts(self, tickets: Sequence[ExecutionTicket]) -> list[AnomalyVerdict]:
        x = _anomaly_view(matrix(tickets, self.stats))
        raw = -self._fast().score_samples(x)  # higher = easier to isolate
        cut = -float(self.forest.offset_)
        out = []
        for ticket, row, score in zip(tickets, x, raw, strict=True):
            hits = anomaly_rules(ticket, self.stats)
            # 0..1: 0.5 at the contamination cut, 1 for the most isolated tickets.
            normalised = round(float(min(1.0, max(0.0, 0.5 + (score - cut) * 2))), 4)
            if hits:
                top = hits[0]
                score_out = max(normalised, round(0.5 + 0.5 * top.severity, 4))
                out.append(
                    AnomalyVerdict(
                        is_anomaly=True,
                        anomaly_score=score_out,
                        anomaly_type=top.kind,
                        explanation=top.explanation,
                    )
                )
            elif score - cut > FOREST_MARGIN:
                kind, why = self._explain(row)
                out.append(
                    AnomalyVerdict(
                        is_anomaly=True,
                        anomaly_score=normalised,
                        anomaly_type=kind,
                        explanation=why,
                    )
                )
            else:
                out.append(AnomalyVerdict(anomaly_score=min(normalised, 0.4999)))
        return out

    def _fast(self) -> FastIsolation:
        fast: FastIsolation | None = self.__dict__.get("_fast_forest")
        if fast is None:
            fast = self.__dict__["_fast_forest"] = FastIsolation(self.forest)
        return fast

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_fast")}

    def _explain(self, row: np.ndarray) -> tuple[str, str]:
        """The kind named by the feature farthest from history's centre."""
        z = np.abs(row - np.array(self.centre)) / np.array(self.spread)
        feature = ANOMALY_FEATURES[int(np.argmax(z))]
        return FEATURE_KIND[feature], f"isolated by {feature} ({float(np.max(z)):.1f} spreads out)"


def _anomaly_view(full: np.ndarray) -> np.ndarray:
    x = full[:, _ANOMALY_COLUMNS].copy()
    timeout = ANOMALY_FEATURES.index("sla_timeout_ms")
    x[:, timeout] = np.log(np.maximum(x[:, timeout], 1.0))
    return x


def dumps(model: DurationModel | AnomalyModel) -> bytes:
    buffer = io.BytesIO()
    pickle.dump({"format": FORMAT, "model": model}, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()


def loads(data: bytes) -> DurationModel | AnomalyModel:
    """Models come only from our own registry (a trusted store), never from user input."""
    doc = pickle.loads(data)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a model this version of the orchestrator wrote")
    model = doc["model"]
    if not isinstance(model, DurationModel | AnomalyModel):
        raise ValueError("unexpected model type")
    return model

"""Known values of the pure ML parts: features, history statistics, the heuristic, the anomaly
rules, resource estimates, metrics and the predictions' wire form."""

from __future__ import annotations

import math

import pytest

from orchestrator_dynamic.domain.ml import (
    FEATURES,
    AnomalyVerdict,
    TicketPredictions,
    anomaly_rules,
    classification_metrics,
    extract_features,
    feature_vector,
    heuristic_duration,
    history_stats,
    prediction_error_ms,
    predictions_of,
    regression_metrics,
    resource_estimate,
)
from orchestrator_dynamic.domain.model import (
    SLA,
    Consistency,
    DeliveryMode,
    Durability,
    ExecutionTicket,
    QoS,
    RiskBand,
    SecurityLevel,
    TaskType,
    TicketPriority,
    TicketStatus,
)
from orchestrator_dynamic.domain.scoring import ml_boost
from tests.scheduling_factory import RELAXED, T0

USUAL = RELAXED  # T0 is 11:06:40 UTC
LOOSE = QoS(
    delivery_mode=DeliveryMode.AT_MOST_ONCE,
    consistency=Consistency.EVENTUAL,
    durability=Durability.PERSISTENT,
)


def make(
    n: int = 0,
    *,
    task_type: TaskType = TaskType.BUILD,
    band: RiskBand = RiskBand.MEDIUM,
    qos: QoS = USUAL,
    caps: list[str] | None = None,
    estimate: int | None = 100_000,
    timeout_ms: int = 300_000,
    actual: int | None = None,
    status: TicketStatus = TicketStatus.PENDING,
    params: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
) -> ExecutionTicket:
    return ExecutionTicket(
        ticket_id=f"t{n}",
        plan_id="p",
        intent_id="i",
        decision_id="d",
        task_id=f"t{n}",
        task_type=task_type,
        description="x",
        priority=TicketPriority.NORMAL,
        risk_band=band,
        sla=SLA(deadline=T0 + timeout_ms, timeout_ms=timeout_ms, max_retries=1),
        qos=qos,
        parameters=params if params is not None else {"input_size_mb": "12.5"},
        required_capabilities=caps if caps is not None else ["docker", "compile"],
        security_level=SecurityLevel.INTERNAL,
        created_at=T0 + n * 60_000,
        estimated_duration_ms=estimate,
        actual_duration_ms=actual,
        status=status,
        metadata=metadata or {},
    )


def history() -> list[ExecutionTicket]:
    """40 BUILD tickets: actual = 1.2 x estimate, medium risk, usual QoS, docker+compile."""
    out = []
    for n in range(40):
        estimate = 100_000 + 1_000 * n
        out.append(
            make(n, estimate=estimate, actual=int(estimate * 1.2), status=TicketStatus.COMPLETED)
        )
    out.append(make(99, estimate=100_000, actual=50_000, status=TicketStatus.FAILED))
    return out


def test_history_statistics_known_values() -> None:
    stats = history_stats(history())
    build = stats.by_type["BUILD"]
    assert build.count == 41
    assert build.success_rate == pytest.approx(40 / 41)
    assert build.ratio_to_estimate == pytest.approx(1.2)
    assert stats.capability_share["BUILD"] == {"docker": 1.0, "compile": 1.0}
    assert stats.qos_share["medium"] == {"AT_LEAST_ONCE/EVENTUAL": 1.0}
    assert stats.count_limit["medium"] == 4.0  # 95th percentile (2) + 2
    assert stats.by_risk["medium"].mean_ms == build.mean_ms


def test_features_known_values() -> None:
    stats = history_stats(history())
    features = extract_features(make(estimate=90_000, timeout_ms=270_000), stats)
    assert set(features) == set(FEATURES)
    assert features["risk_weight"] == 0.5
    assert features["qos_delivery_score"] == 0.7
    assert features["qos_consistency_score"] == 0.85
    assert features["qos_durability_score"] == 1.0
    assert features["qos_score"] == 0.595
    assert features["capabilities_count"] == 2.0
    assert features["capability_rarity"] == 0.0
    assert features["task_type_encoded"] == 0.0  # BUILD
    assert features["parameters_size"] == len('{"input_size_mb": "12.5"}')
    assert features["input_size_mb"] == 12.5
    assert features["estimated_duration_ms"] == 90_000
    assert features["sla_timeout_ms"] == 270_000
    assert features["avg_duration_by_task"] == stats.by_type["BUILD"].mean_ms
    assert features["success_rate_by_task"] == pytest.approx(40 / 41)
    assert features["retry_count"] == 0.0
    assert features["hour_of_day"] == 11.0
    assert features["hour_sin"] == pytest.approx(math.sin(2 * math.pi * 11 / 24))
    assert len(feature_vector(features)) == len(FEATURES)


def test_unknown_values_are_distinct_from_zero() -> None:
    stats = history_stats(history())
    features = extract_features(make(estimate=None, params={"input_size_mb": "lots"}), stats)
    assert features["estimated_duration_ms"] == -1.0
    assert features["input_size_mb"] == -1.0
    rare = extract_features(make(caps=["docker", "gpu"]), stats)
    assert rare["capability_rarity"] == 1.0  # gpu: never seen on BUILD


def test_heuristic_says_where_it_comes_from() -> None:
    stats = history_stats(history())
    assert heuristic_duration(make(estimate=100_000), stats) == (
        pytest.approx(120_000),
        "heuristic:history",
    )
    value, source = heuristic_duration(make(estimate=None), stats)
    assert source == "heuristic:history" and value > 0
    assert heuristic_duration(make(estimate=5_000), None) == (5_000.0, "heuristic:estimate")
    assert heuristic_duration(make(estimate=None, timeout_ms=90_000), None) == (
        30_000.0,
        "heuristic:timeout",
    )


def test_boost_rules_through_predictions() -> None:
    """+20 % when predicted > 1.5 x estimate, +20 % on an anomaly, capped at 1.0."""
    long = TicketPredictions(
        duration_ms=160_000, duration_confidence=0.9, resource_estimate={"cpu_m": 1, "memory_mb": 1}
    )
    assert ml_boost(0.5, estimated_ms=100_000, predicted_ms=long.duration_ms) == pytest.approx(0.6)
    assert ml_boost(0.5, estimated_ms=100_000, predicted_ms=150_000) == 0.5
    assert ml_boost(0.5, estimated_ms=100_000, predicted_ms=160_000, anomaly=True) == (
        pytest.approx(0.7)
    )
    assert ml_boost(0.8, estimated_ms=100_000, predicted_ms=160_000, anomaly=True) == 1.0
    assert ml_boost(0.5, estimated_ms=None, predicted_ms=160_000) == 0.5  # no estimate, no ratio


@pytest.mark.parametrize(
    ("ticket", "kind"),
    [
        (make(band=RiskBand.LOW, caps=[f"c{i}" for i in range(8)]), "resource_mismatch"),
        (make(band=RiskBand.MEDIUM, qos=LOOSE), "qos_inconsistency"),
        (make(estimate=5_000_000, timeout_ms=15_000_000), "duration_outlier"),
        (make(caps=["docker", "prod-root"]), "capability_anomaly"),
    ],
)
def test_anomaly_rules_name_the_kind(ticket: ExecutionTicket, kind: str) -> None:
    stats = history_stats(
        [
            *history(),
            *(
                make(200 + n, band=RiskBand.LOW, actual=1000, status=TicketStatus.COMPLETED)
                for n in range(10)
            ),
        ]
    )
    hits = anomaly_rules(ticket, stats)
    assert hits and hits[0].kind == kind
    assert 0 < hits[0].severity <= 1 and hits[0].explanation


def test_usual_ticket_has_no_anomaly() -> None:
    stats = history_stats(history())
    assert anomaly_rules(make(estimate=120_000, timeout_ms=360_000), stats) == []


def test_resource_estimate_grows_with_duration_and_is_capped() -> None:
    short = resource_estimate(make(), 60_000)
    longer = resource_estimate(make(), 3_600_000)
    assert short == {"cpu_m": 1250, "memory_mb": 1305}  # factor 1.25; + 2 x 12.5 MB
    assert longer["cpu_m"] > short["cpu_m"] and longer["memory_mb"] > short["memory_mb"]
    assert resource_estimate(make(params={"input_size_mb": "99999"}), 1e12) == {
        "cpu_m": 4000,
        "memory_mb": 8192,
    }


def test_predictions_round_trip_as_metadata_strings() -> None:
    p = TicketPredictions(
        duration_ms=1234.4,
        duration_confidence=0.8,
        resource_estimate={"cpu_m": 500, "memory_mb": 512},
        anomaly=AnomalyVerdict(
            is_anomaly=True, anomaly_score=0.9, anomaly_type="qos_inconsistency", explanation="x"
        ),
        source="model:v3",
    )
    metadata = p.as_metadata()
    assert all(isinstance(v, str) for v in metadata.values())
    assert metadata["predicted_duration_ms"] == "1234"
    assert metadata["anomaly_detected"] == "true"
    assert predictions_of(metadata) == p
    assert predictions_of({"predictions": "{not json"}) is None
    done = make(actual=2000, status=TicketStatus.COMPLETED, metadata=metadata)
    assert prediction_error_ms(done) == pytest.approx(765.6)
    assert prediction_error_ms(make(actual=2000)) is None


def test_metric_definitions() -> None:
    m = regression_metrics([100.0, 200.0, 300.0], [110.0, 190.0, 330.0])
    assert m["mae"] == pytest.approx(50 / 3)
    assert m["mae_pct"] == pytest.approx(50 / 3 / 200 * 100)  # MAE / mean actual x 100
    assert m["rmse"] == pytest.approx(math.sqrt((100 + 100 + 900) / 3))
    assert m["r2"] == pytest.approx(1 - 1100 / 20_000)
    c = classification_metrics([True, True, False, False], [True, False, True, False])
    assert (c["precision"], c["recall"], c["f1"]) == (0.5, 0.5, 0.5)

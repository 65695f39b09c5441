"""Known values of every scoring formula (ARCHITECTURE.md "Fixed rules") and aging."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.domain.model import (
    Consistency,
    DeliveryMode,
    Durability,
    QoS,
    SecurityLevel,
)
from orchestrator_dynamic.domain.scoring import (
    Health,
    PriorityWeights,
    WorkerTelemetry,
    agent_score,
    aging_bonus,
    deadline_consumed,
    ineligibility,
    ml_boost,
    priority_score,
    qos_score,
    reason_kind,
    risk_score,
    sla_urgency,
    telemetry_score,
    worker_score,
)
from tests.scheduling_factory import RELAXED, STRICT, worker

D, C, U = DeliveryMode, Consistency, Durability


@pytest.mark.parametrize(
    ("band", "expected"),
    [("critical", 1.0), ("high", 0.7), ("medium", 0.5), ("normal", 0.5), ("low", 0.3)],
)
def test_risk_weights(band: str, expected: float) -> None:
    assert risk_score(band) == expected


@pytest.mark.parametrize(
    ("qos", "expected"),
    [
        ((D.EXACTLY_ONCE, C.STRONG, U.PERSISTENT), 1.0),
        ((D.AT_LEAST_ONCE, C.STRONG, U.PERSISTENT), 0.85),
        ((D.AT_LEAST_ONCE, C.STRONG, U.TRANSIENT), 0.85),
        ((D.AT_LEAST_ONCE, C.EVENTUAL, U.PERSISTENT), 0.595),
        ((D.AT_MOST_ONCE, C.EVENTUAL, U.TRANSIENT), 0.5),
        ((D.AT_MOST_ONCE, C.STRONG, U.PERSISTENT), 0.5),
    ],
)
def test_qos_table(qos: tuple[DeliveryMode, Consistency, Durability], expected: float) -> None:
    assert qos_score(QoS(delivery_mode=qos[0], consistency=qos[1], durability=qos[2])) == expected


@pytest.mark.parametrize(
    ("now", "consumed", "urgency"),
    [(0, 0.0, 0.3), (499, 0.499, 0.3), (500, 0.5, 0.7), (799, 0.799, 0.7), (800, 0.8, 1.0),
     (1500, 1.5, 1.0)],
)  # fmt: skip
def test_deadline_share_and_urgency_bands(now: int, consumed: float, urgency: float) -> None:
    assert deadline_consumed(0, 1000, now) == pytest.approx(consumed)
    assert sla_urgency(deadline_consumed(0, 1000, now)) == urgency


def test_deadline_consumed_edges() -> None:
    assert deadline_consumed(1000, 1000, 0) == 1.0  # empty window: already due
    assert deadline_consumed(1000, 2000, 500) == 0.0  # clock before creation


def test_priority_score_known_values() -> None:
    assert priority_score("critical", STRICT, 0.9) == pytest.approx(0.4 + 0.3 + 0.3)
    assert priority_score("low", RELAXED, 0.1) == pytest.approx(0.12 + 0.1785 + 0.09)
    assert priority_score("high", RELAXED, 0.6) == pytest.approx(0.28 + 0.1785 + 0.21)
    weights = PriorityWeights(risk=1.0, qos=0.0, sla=0.0)
    assert priority_score("high", STRICT, 0.99, weights) == pytest.approx(0.7)


def test_ml_boost() -> None:
    assert ml_boost(0.5) == 0.5
    assert ml_boost(0.5, estimated_ms=1000, predicted_ms=1500) == 0.5  # not > 1.5x
    assert ml_boost(0.5, estimated_ms=1000, predicted_ms=1501) == pytest.approx(0.6)
    assert ml_boost(0.5, anomaly=True) == pytest.approx(0.6)
    assert ml_boost(0.5, estimated_ms=1000, predicted_ms=2000, anomaly=True) == pytest.approx(0.7)
    assert ml_boost(0.9, estimated_ms=10, predicted_ms=100, anomaly=True) == 1.0


def test_worker_scores_known_values() -> None:
    assert telemetry_score(WorkerTelemetry(1.0, 0.5, 0.0)) == pytest.approx(0.7)
    assert telemetry_score(WorkerTelemetry(0.5, 1.0, 1.0)) == pytest.approx(0.7)
    assert agent_score(worker("a")) == pytest.approx(0.5 * 1.0 + 0.5 * 0.7)
    assert agent_score(worker("a", health=Health.DEGRADED)) == pytest.approx(0.3 + 0.35)
    assert agent_score(worker("a", health=Health.UNHEALTHY)) == pytest.approx(0.35)
    assert worker_score(0.85, 0.5) == pytest.approx(0.51 + 0.2)


@pytest.mark.parametrize(
    ("kwargs", "need", "level", "namespace", "reason"),
    [
        ({}, {"python"}, SecurityLevel.INTERNAL, None, None),
        ({"health": Health.DEGRADED}, {"python"}, SecurityLevel.INTERNAL, None, None),
        ({"health": Health.UNHEALTHY}, set(), SecurityLevel.PUBLIC, None, "unhealthy"),
        ({"max_tasks": 2, "active": 2}, set(), SecurityLevel.PUBLIC, None, "at capacity (2/2)"),
        ({}, {"python", "gpu", "aws"}, SecurityLevel.PUBLIC, None,
         "missing capabilities: aws, gpu"),
        ({"namespace": "a"}, set(), SecurityLevel.PUBLIC, "b", "namespace 'a' is not 'b'"),
        ({}, set(), SecurityLevel.RESTRICTED, None,
         "security level INTERNAL below RESTRICTED"),
        ({"security": SecurityLevel.RESTRICTED}, set(), SecurityLevel.CONFIDENTIAL, None, None),
    ],
)  # fmt: skip
def test_eligibility(
    kwargs: dict[str, object],
    need: set[str],
    level: SecurityLevel,
    namespace: str | None,
    reason: str | None,
) -> None:
    got = ineligibility(worker("w", **kwargs), need, level, namespace)  # type: ignore[arg-type]
    assert got == reason


def test_reason_kinds_are_bounded() -> None:
    assert reason_kind("at capacity (2/2)") == "capacity"
    assert reason_kind("missing capabilities: gpu") == "capabilities"
    assert reason_kind("security level PUBLIC below INTERNAL") == "security"
    assert reason_kind("namespace 'a' is not 'b'") == "namespace"
    assert reason_kind("unhealthy") == "unhealthy"
    assert reason_kind("something new") == "other"


def test_aging_is_linear_in_minutes_waited() -> None:
    assert aging_bonus(0, 0.05) == 0.0
    assert aging_bonus(60_000, 0.05) == pytest.approx(0.05)
    assert aging_bonus(600_000, 0.1) == pytest.approx(1.0)
    assert aging_bonus(-5, 0.1) == 0.0  # clock skew never penalises

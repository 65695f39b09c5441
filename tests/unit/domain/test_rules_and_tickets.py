"""SLA, QoS, retries, priority and ticket generation with known values."""

from __future__ import annotations

import uuid

import pytest

from orchestrator_dynamic.domain import rules
from orchestrator_dynamic.domain.decode import parse_decision, parse_plan
from orchestrator_dynamic.domain.model import (
    Consistency,
    DeliveryMode,
    Durability,
    RiskBand,
    SecurityLevel,
    TicketPriority,
)
from orchestrator_dynamic.domain.tickets import (
    build_tickets,
    compensation_ticket_id,
    normalise_task_type,
    ticket_id,
)
from tests.conftest import decision_bytes

POLICY = rules.SlaPolicy()


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [(None, 180_000), (1_000, 60_000), (20_000, 60_000), (20_001, 60_003), (120_000, 360_000)],
)
def test_timeout_is_max_of_minimum_and_buffered_estimate(
    estimate: int | None, expected: int
) -> None:
    assert rules.timeout_ms(estimate, POLICY) == expected


def test_custom_sla_policy_changes_timeouts() -> None:
    policy = rules.SlaPolicy(min_timeout_ms=10_000, buffer_multiplier=2.0, default_timeout_ms=5_000)
    assert rules.timeout_ms(8_000, policy) == 16_000
    assert rules.timeout_ms(None, policy) == 120_000  # 60,000 ms assumed x 2.0


@pytest.mark.parametrize(
    ("band", "retries", "priority", "mode", "consistency"),
    [
        (
            RiskBand.CRITICAL,
            5,
            TicketPriority.CRITICAL,
            DeliveryMode.EXACTLY_ONCE,
            Consistency.STRONG,
        ),
        (RiskBand.HIGH, 3, TicketPriority.HIGH, DeliveryMode.EXACTLY_ONCE, Consistency.STRONG),
        (
            RiskBand.MEDIUM,
            2,
            TicketPriority.NORMAL,
            DeliveryMode.AT_LEAST_ONCE,
            Consistency.EVENTUAL,
        ),
        (RiskBand.LOW, 1, TicketPriority.LOW, DeliveryMode.AT_LEAST_ONCE, Consistency.EVENTUAL),
    ],
)
def test_band_rules(
    band: RiskBand,
    retries: int,
    priority: TicketPriority,
    mode: DeliveryMode,
    consistency: Consistency,
) -> None:
    sla = rules.sla_for(band, 10_000, 1_000, POLICY)
    assert (sla.max_retries, sla.timeout_ms, sla.deadline) == (retries, 60_000, 61_000)
    assert rules.PRIORITY[band] is priority
    qos = rules.qos_for(band)
    assert (qos.delivery_mode, qos.consistency, qos.durability) == (
        mode,
        consistency,
        Durability.PERSISTENT,
    )


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("internal", SecurityLevel.INTERNAL),
        ("restricted", SecurityLevel.RESTRICTED),
        ("Confidential", SecurityLevel.CONFIDENTIAL),
        ("", SecurityLevel.INTERNAL),
        ("top-secret", SecurityLevel.INTERNAL),
    ],
)
def test_security_level_upper_cased_with_internal_default(raw: str, level: SecurityLevel) -> None:
    assert rules.security_level_for(raw) is level


def test_ticket_ids_are_deterministic_uuid5_per_decision_and_task() -> None:
    first = ticket_id("dec-1", "t1")
    assert first == ticket_id("dec-1", "t1")
    assert first != ticket_id("dec-2", "t1")
    assert first != ticket_id("dec-1", "t2")
    assert uuid.UUID(first).version == 5
    assert compensation_ticket_id(first) != first
    assert compensation_ticket_id(first) == compensation_ticket_id(first)


def test_task_types_are_normalised() -> None:
    assert normalise_task_type("build") is not None
    assert normalise_task_type(" Deploy ") is not None
    assert normalise_task_type("teleport") is None


def test_tickets_from_the_five_task_fixture() -> None:
    decision = parse_decision(decision_bytes("approve-5-task-dag"))
    plan = parse_plan(decision)
    tickets = build_tickets(decision, plan, 1_000, POLICY)
    by_task = {t.task_id: t for t in tickets}
    assert len(tickets) == 5
    canary = by_task["t4-canary"]
    assert canary.dependencies == [by_task["t2-unit"].ticket_id, by_task["t3-scan"].ticket_id]
    assert canary.sla.timeout_ms == 540_000  # 180 s estimate x 3
    assert canary.sla.deadline == 541_000
    assert canary.priority is TicketPriority.HIGH
    assert canary.security_level is SecurityLevel.INTERNAL
    assert canary.metadata["workflow_id"] == "dec-0001"
    assert float(canary.metadata["priority_score"]) == pytest.approx(
        0.4 * 0.7 + 0.3 * 1.0 + 0.3 * 0.3
    )
    assert canary.correlation_id == "corr-intent-0001"

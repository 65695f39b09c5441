"""The PolicyEngine contract, passed by the embedded engine and the OPA adapter alike (the
OPA adapter talks HTTP to the stand-in of tests/servers/opa_standin.py, see its docstring)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.services.policy import (
    FEATURE_FLAGS,
    RESOURCE_LIMITS,
    SECURITY_CONSTRAINTS,
    SLA_ENFORCEMENT,
)

pytestmark = pytest.mark.integration

NOW = 1_700_000_000_000


def ticket(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "task_id": "build",
        "risk_band": "high",
        "priority": "HIGH",
        "security_level": "INTERNAL",
        "required_capabilities": ["code_generation"],
        "parameters": {},
        "metadata": {},
        "estimated_duration_ms": 10_000,
        "sla": {"deadline": NOW + 60_000, "timeout_ms": 60_000, "max_retries": 3},
        "qos": {
            "delivery_mode": "EXACTLY_ONCE",
            "consistency": "STRONG",
            "durability": "PERSISTENT",
        },
    }
    doc.update(changes)
    return doc


def doc_of(*tickets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"stage": "ticket", "now_ms": NOW, "tickets": list(tickets), **extra}


@pytest.mark.parametrize(
    "package", [RESOURCE_LIMITS, SLA_ENFORCEMENT, SECURITY_CONSTRAINTS, FEATURE_FLAGS]
)
async def test_valid_ticket_is_allowed_by_every_package(engine: Any, package: str) -> None:
    decision = await engine.evaluate(package, doc_of(ticket()))
    assert decision.allow and decision.violations == ()


async def test_violations_name_policy_rule_and_severity(engine: Any) -> None:
    bad = ticket(required_capabilities=["shell"], parameters={"memory": "16Gi"})
    config = {"allowed_capabilities": ["code_generation", "deployment", "testing", "validation"]}
    decision = await engine.evaluate(RESOURCE_LIMITS, doc_of(bad, config=config))
    assert not decision.allow
    rules = {(v.policy, v.rule, v.severity) for v in decision.violations}
    assert rules == {
        ("resource_limits", "capability_not_allowed", "high"),
        ("resource_limits", "memory_exceeds_limit", "high"),
    }
    assert all("build" in v.message for v in decision.violations)


async def test_configured_limits_come_through_the_input(engine: Any) -> None:
    bad = ticket(required_capabilities=["shell"])
    config = {"allowed_capabilities": ["shell"]}
    assert (await engine.evaluate(RESOURCE_LIMITS, doc_of(bad, config=config))).allow
    other = ticket(required_capabilities=["helm"])
    assert not (await engine.evaluate(RESOURCE_LIMITS, doc_of(other, config=config))).allow
    # No list configured: every capability is allowed.
    assert (await engine.evaluate(RESOURCE_LIMITS, doc_of(other))).allow


async def test_sla_rules(engine: Any) -> None:
    weak = ticket(qos={"delivery_mode": "AT_LEAST_ONCE", "consistency": "EVENTUAL"})
    decision = await engine.evaluate(SLA_ENFORCEMENT, doc_of(weak))
    assert [v.rule for v in decision.violations] == ["qos_insufficient"]


async def test_security_rules_see_the_worker(engine: Any) -> None:
    secret = ticket(security_level="RESTRICTED")
    worker = {"worker_id": "w1", "security_level": "INTERNAL", "namespace": "default"}
    decision = await engine.evaluate(SECURITY_CONSTRAINTS, doc_of(secret, worker=worker))
    assert [v.rule for v in decision.violations] == ["worker_security_level_insufficient"]


async def test_feature_flags(engine: Any) -> None:
    context = {"tenant_tier": "premium", "load": 0.2, "model_accuracy": 0.9}
    decision = await engine.evaluate(FEATURE_FLAGS, doc_of(ticket(), context=context))
    assert decision.allow
    assert dict(decision.flags) == {
        "intelligent_scheduler": True,
        "burst_capacity": True,
        "predictive_allocation": True,
        "auto_scaling": False,
    }


async def test_unknown_package_is_an_engine_error(engine: Any) -> None:
    with pytest.raises(PolicyUnavailable):
        await engine.evaluate("neuralhive/orchestrator/nope", doc_of(ticket()))

"""Which search attributes a decision's workflow carries, and which engine refusal means
"not registered"."""

from __future__ import annotations

import json

from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from orchestrator_dynamic.domain.decode import parse_decision, parse_plan
from orchestrator_dynamic.flow import search_attributes as sa
from tests.conftest import decision_doc


def values(attributes: TypedSearchAttributes) -> dict[str, object]:
    return {pair.key.name: pair.value for pair in attributes}


def test_a_decision_carries_its_plan_intent_risk_band_and_verdict() -> None:
    decision = parse_decision(decision_doc("critical-security-3-task"))
    expected = {
        "NeuralHivePlanId": "plan-0002",
        "NeuralHiveIntentId": "intent-0002",
        "NeuralHiveRiskBand": "critical",
        "NeuralHiveFinalDecision": "approve",
    }
    assert values(sa.for_decision(decision, parse_plan(decision))) == expected
    assert values(sa.for_decision(decision)) == expected  # the plan read from the decision


def test_the_risk_band_is_lower_case_as_upstream_sends_it_either_way() -> None:
    doc = decision_doc("review-required")
    plan = json.loads(doc["cognitive_plan"])
    plan["risk_band"] = "HIGH"
    doc["cognitive_plan"] = json.dumps(plan)
    got = values(sa.for_decision(parse_decision(doc)))
    assert got["NeuralHiveRiskBand"] == "high"
    assert got["NeuralHiveFinalDecision"] == "review_required"


def test_a_decision_whose_plan_cannot_be_read_is_still_findable_by_the_rest() -> None:
    decision = parse_decision(decision_doc("malformed-plan-json"))
    assert values(sa.for_decision(decision)) == {
        "NeuralHivePlanId": "plan-0012",
        "NeuralHiveIntentId": "intent-0012",
        "NeuralHiveFinalDecision": "approve",
    }


def test_only_an_unknown_attribute_counts_as_unregistered() -> None:
    invalid = RPCStatusCode.INVALID_ARGUMENT
    sql = "Namespace x has no mapping defined for search attribute NeuralHivePlanId"
    elastic = "search attribute NeuralHivePlanId is not defined"
    assert sa.is_unregistered(RPCError(sql, invalid, b""))
    assert sa.is_unregistered(RPCError(elastic, invalid, b""))
    assert not sa.is_unregistered(RPCError("search attributes size exceeds limit", invalid, b""))
    assert not sa.is_unregistered(RPCError(sql, RPCStatusCode.UNAVAILABLE, b""))

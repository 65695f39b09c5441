"""Decoding wire documents and C1 validation: every reason names its field."""

from __future__ import annotations

import json

import pytest

from orchestrator_dynamic.domain.decode import (
    decision_hash,
    hash_matches,
    parse_decision,
    parse_plan,
    parse_result,
)
from orchestrator_dynamic.domain.errors import MalformedMessage, PlanRefused
from orchestrator_dynamic.services.planning import plan_document
from tests.conftest import FIXTURES, decision_bytes, decision_doc

NOW = 1_795_000_100_000


def test_missing_and_mistyped_fields_are_named() -> None:
    with pytest.raises(MalformedMessage) as err:
        parse_decision(decision_bytes("malformed-fields"))
    paths = {i.path: i for i in err.value.issues}
    assert paths["decision_id"].code == "field.missing"
    assert "'high'" in paths["aggregated_confidence"].message


def test_truncated_plan_names_cognitive_plan() -> None:
    decision = parse_decision(decision_bytes("malformed-plan-json"))
    with pytest.raises(MalformedMessage) as err:
        parse_plan(decision)
    assert err.value.field == "cognitive_plan"
    assert "not valid JSON" in str(err.value)


def test_not_json_at_all() -> None:
    with pytest.raises(MalformedMessage) as err:
        parse_decision(b"\x00\x01garbage")
    assert err.value.issues[0].code == "json.invalid"


def test_plan_as_object_and_nested_once_more_are_accepted() -> None:
    doc = decision_doc("approve-5-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    as_object = parse_decision({**doc, "cognitive_plan": plan})
    nested = parse_decision({**doc, "cognitive_plan": json.dumps({"cognitive_plan": plan})})
    assert parse_plan(as_object) == parse_plan(nested) == parse_plan(parse_decision(doc))


def test_plan_field_errors_are_prefixed_with_cognitive_plan() -> None:
    doc = decision_doc("approve-5-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    plan["tasks"][0]["estimated_duration_ms"] = "soon"
    with pytest.raises(MalformedMessage) as err:
        parse_plan(parse_decision({**doc, "cognitive_plan": json.dumps(plan)}))
    assert err.value.issues[0].path == "cognitive_plan.tasks.0.estimated_duration_ms"


def test_integrity_hash() -> None:
    assert hash_matches(parse_decision(decision_bytes("approve-5-task-dag")))
    bad = parse_decision(decision_bytes("hash-mismatch"))
    assert not hash_matches(bad)
    assert len(decision_hash(bad)) == 64


def test_results_fixture_parses() -> None:
    result = parse_result((FIXTURES / "results" / "failed.json").read_bytes())
    assert result.status == "FAILED"
    assert result.error_message


@pytest.mark.parametrize(
    ("name", "code", "path"),
    [
        ("invalid-cycle", "dag.cycle", "tasks"),
        ("invalid-unknown-dependency", "dag.unknown_dependency", "tasks[b].dependencies"),
        ("invalid-expired-plan", "plan.expired", "cognitive_plan.valid_until"),
        ("invalid-duplicate-task-id", "dag.duplicate_task_id", "tasks[a]"),
        ("invalid-no-tasks", "plan.empty", "cognitive_plan.tasks"),
    ],
)
def test_invalid_fixtures_are_refused_with_reason(name: str, code: str, path: str) -> None:
    with pytest.raises(PlanRefused) as err:
        plan_document(decision_bytes(name), NOW)
    assert (code, path) in {(i.code, i.path) for i in err.value.issues}


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("approve-5-task-dag", 5),
        ("critical-security-3-task", 3),
        ("low-risk-lowercase-types", 2),
        ("conditional-approval", 5),
        ("review-required", 5),
        ("rejected", 5),
        ("hash-mismatch", 5),
        ("large-100-task-dag", 100),
    ],
)
def test_valid_fixtures_yield_one_ticket_per_task_in_dependency_order(
    name: str, count: int
) -> None:
    planned = plan_document(decision_bytes(name), NOW)
    assert len(planned.tickets) == count
    seen: set[str] = set()
    for ticket in planned.tickets:
        assert set(ticket.dependencies) <= seen
        seen.add(ticket.ticket_id)


def test_lowercase_types_normalised_and_missing_estimate_counts_as_sixty_seconds() -> None:
    planned = plan_document(decision_bytes("low-risk-lowercase-types"), NOW)
    first, second = planned.tickets
    assert (first.task_type.value, second.task_type.value) == ("BUILD", "TEST")
    assert second.estimated_duration_ms is None
    # as the specification: no estimate counts as 60,000 ms -> max(60,000, 60,000 x 3.0)
    assert second.sla.timeout_ms == 180_000
    assert second.sla.max_retries == 1


def test_unknown_task_type_and_bad_version_are_refused() -> None:
    doc = decision_doc("approve-5-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    plan["tasks"][0]["task_type"] = "teleport"
    plan["version"] = "2.0.0"
    with pytest.raises(PlanRefused) as err:
        plan_document({**doc, "cognitive_plan": json.dumps(plan)}, NOW)
    assert {i.code for i in err.value.issues} == {"task.unknown_type", "plan.version"}

"""Decisions as the consensus engine builds them: timestamps, map values, the integrity hash and
task types (pure; the decisions come from tests/upstream.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator_dynamic.domain.decode import (
    decision_hash,
    hash_matches,
    parse_decision,
    parse_plan,
)
from orchestrator_dynamic.domain.errors import MalformedMessage, PlanRefused
from orchestrator_dynamic.domain.model import TaskType
from orchestrator_dynamic.domain.task_types import alias_table
from orchestrator_dynamic.domain.wire_values import epoch_ms
from orchestrator_dynamic.services.planning import PlanningConfig, plan_document
from tests.conftest import DECISIONS, decision_bytes
from tests.upstream import CREATED, upstream_decision, upstream_hash, votes

MS = 1_771_669_088_353  # 2026-02-21T10:18:08.353Z
NOW = int(CREATED.timestamp() * 1000) + 1_000


@pytest.mark.parametrize(
    "value",
    [
        MS,
        float(MS),
        str(MS),
        "2026-02-21 10:18:08.353000+00:00",  # str(datetime), as json.dumps(default=str) writes it
        "2026-02-21T10:18:08.353000Z",
        "2026-02-21T10:18:08.353Z",
        "2026-02-21T10:18:08.353999999Z",  # nanoseconds: truncated like int(ts * 1000)
        "2026-02-21T10:18:08.353",  # naive: UTC, as upstream's utcnow() means it
        "2026-02-21T13:18:08.353+03:00",
        "2026-02-21T07:18:08.3535-0300",
        datetime(2026, 2, 21, 10, 18, 8, 353_500, tzinfo=UTC),
    ],
)
def test_every_timestamp_form_becomes_the_same_epoch_ms(value: object) -> None:
    assert epoch_ms(value) == MS


def test_a_timestamp_that_is_none_of_them_is_refused_naming_the_field() -> None:
    doc = upstream_decision()
    plan = json.loads(doc["cognitive_plan"])
    plan["approved_at"] = "last tuesday"
    with pytest.raises(MalformedMessage) as err:
        parse_plan(parse_decision({**doc, "cognitive_plan": json.dumps(plan)}))
    [issue] = err.value.issues
    assert issue.path == "cognitive_plan.approved_at"
    assert "ISO-8601" in issue.message and "last tuesday" in issue.message


def test_plan_and_decision_timestamps_as_datetime_strings_are_normalised() -> None:
    doc = upstream_decision()
    doc["valid_until"] = "2036-02-21T10:18:08.353127Z"
    plan_doc = json.loads(doc["cognitive_plan"])
    assert plan_doc["created_at"] == "2026-02-21 10:18:06.353127+00:00"  # as upstream sends it
    decision = parse_decision(doc)
    plan = parse_plan(decision)
    assert plan.created_at == MS - 2_000
    assert plan.valid_until == epoch_ms(CREATED + timedelta(days=3650))
    assert decision.valid_until == epoch_ms("2036-02-21T10:18:08.353Z")
    assert decision.created_at == MS


def test_a_lower_case_domain_is_read_as_the_enum_symbol() -> None:
    doc = upstream_decision()
    plan = json.loads(doc["cognitive_plan"])
    plan["original_domain"] = "security"
    parsed = parse_plan(parse_decision({**doc, "cognitive_plan": json.dumps(plan)}))
    assert parsed.original_domain == "SECURITY"


def test_scalar_map_values_become_strings() -> None:
    doc = upstream_decision()
    doc["metadata"] = {"num_specialists": 3, "unanimous": True, "score": 0.5, "gone": None}
    plan = json.loads(doc["cognitive_plan"])
    plan["tasks"][0]["parameters"] = {"limit": 100, "dry_run": False, "collection": "users"}
    plan["metadata"] = {"num_tasks": 4}
    decision = parse_decision({**doc, "cognitive_plan": json.dumps(plan)})
    assert decision.metadata == {"num_specialists": "3", "unanimous": "true", "score": "0.5"}
    parsed = parse_plan(decision)
    assert parsed.tasks[0].parameters == {"limit": "100", "dry_run": "false", "collection": "users"}
    assert parsed.metadata == {"num_tasks": "4"}


def test_a_list_as_a_map_value_is_still_refused_naming_the_key() -> None:
    doc = upstream_decision()
    plan = json.loads(doc["cognitive_plan"])
    plan["tasks"][0]["parameters"] = {"entities": [{"type": "user"}]}
    with pytest.raises(MalformedMessage) as err:
        parse_plan(parse_decision({**doc, "cognitive_plan": json.dumps(plan)}))
    assert err.value.issues[0].path == "cognitive_plan.tasks.0.parameters.entities"


# ---------------------------------------------------------------- integrity hash


@pytest.mark.parametrize("micros", [0, 1, 353_127, 353_999, 999_999])
def test_upstream_hash_with_any_sub_millisecond_remainder_matches(micros: int) -> None:
    created = CREATED.replace(microsecond=micros)
    assert hash_matches(parse_decision(upstream_decision(created=created)))


def test_upstream_hash_of_older_engines_naive_created_at_and_no_seniority_matches() -> None:
    naive = CREATED.replace(tzinfo=None)  # datetime.utcnow() in older releases
    doc = upstream_decision(seniority=False)
    doc["hash"] = upstream_hash({**doc, "_votes_dumped": votes(doc["decision_id"], False)}, naive)
    assert hash_matches(parse_decision(doc))


def test_seniority_sent_on_the_json_path_is_part_of_the_hash() -> None:
    doc = upstream_decision()
    dumped = votes(doc["decision_id"])
    for vote in dumped:
        vote.update(seniority_level="senior", seniority_multiplier=1.5)
    doc["specialist_votes"] = [dict(v) for v in dumped]
    doc["hash"] = upstream_hash({**doc, "_votes_dumped": dumped}, CREATED)
    assert hash_matches(parse_decision(doc))


def tampered(doc: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {**doc, **change}


@pytest.mark.parametrize(
    "change",
    [
        {"aggregated_risk": 0.32},
        {"final_decision": "conditional"},
        {"created_at": int(CREATED.timestamp() * 1000) - 1},
        {"created_at": int(CREATED.timestamp() * 1000) + 2},
        {"hash": "not-a-hash"},
    ],
)
def test_a_changed_decision_does_not_match(change: dict[str, Any]) -> None:
    assert not hash_matches(parse_decision(tampered(upstream_decision(), **change)))


def test_the_fixtures_hashes_keep_working() -> None:
    """The shared fixtures were hashed with a naive created_at and default JSON escaping."""
    for path in sorted(DECISIONS.glob("*.json")):
        if path.stem.startswith("malformed-fields"):
            continue
        decision = parse_decision(path.read_bytes())
        assert hash_matches(decision) is (path.stem != "hash-mismatch"), path.stem


def test_our_own_hash_is_accepted() -> None:
    decision = parse_decision(decision_bytes("hash-mismatch"))
    resigned = decision.model_copy(update={"hash": decision_hash(decision)})
    assert hash_matches(resigned)


# ---------------------------------------------------------------- task types


def test_upstream_task_types_map_onto_ticket_types_keeping_the_original() -> None:
    planned = plan_document(upstream_decision(), NOW)
    by_task = {t.task_id: t for t in planned.tickets}
    assert [by_task[t].task_type for t in ("task_0", "task_1", "task_2", "task_3")] == [
        TaskType.QUERY,
        TaskType.EXECUTE,
        TaskType.EXECUTE,
        TaskType.VALIDATE,
    ]
    assert by_task["task_1"].metadata["original_task_type"] == "create"
    assert by_task["task_2"].metadata["original_task_type"] == "update"
    assert by_task["task_0"].metadata["original_task_type"] == "query"


def test_a_type_the_table_does_not_cover_refuses_the_plan_naming_the_task() -> None:
    config = PlanningConfig(task_types=alias_table({"create": "EXECUTE"}))
    with pytest.raises(PlanRefused) as err:
        plan_document(upstream_decision(), NOW, config)
    [issue] = err.value.issues
    assert issue.code == "task.unknown_type"
    assert issue.path == "cognitive_plan.tasks[task_2].task_type"
    assert "'task_2'" in issue.message and "'update'" in issue.message


def test_the_table_is_configurable() -> None:
    config = PlanningConfig(task_types=alias_table({"create": "build", "update": "DEPLOY"}))
    types = {
        t.task_id: t.task_type for t in plan_document(upstream_decision(), NOW, config).tickets
    }
    assert (types["task_1"], types["task_2"]) == (TaskType.BUILD, TaskType.DEPLOY)


def test_a_table_entry_naming_no_ticket_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="TELEPORT"):
        alias_table({"create": "TELEPORT"})

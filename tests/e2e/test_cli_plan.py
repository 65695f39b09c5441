"""`orchestrator-dynamic plan` on every decision fixture: the outcome the fixtures README states."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator_dynamic.entrypoints.cli import app
from tests.conftest import DECISIONS
from tests.upstream import as_json, upstream_decision

runner = CliRunner()

VALID = {
    "approve-5-task-dag": (5, "high", "run"),
    "critical-security-3-task": (3, "critical", "run"),
    "low-risk-lowercase-types": (2, "low", "run"),
    "conditional-approval": (5, "medium", "run"),
    "review-required": (5, "high", "await_approval"),
    "rejected": (5, "high", "skip"),
    "hash-mismatch": (5, "high", "run"),
    "large-100-task-dag": (100, "medium", "run"),
}
REFUSED = {
    "invalid-cycle": ("dag.cycle", "a -> b -> c -> a"),
    "invalid-unknown-dependency": ("dag.unknown_dependency", "zzz"),
    "invalid-expired-plan": ("plan.expired", "valid_until"),
    "invalid-duplicate-task-id": ("dag.duplicate_task_id", "'a'"),
    "invalid-no-tasks": ("plan.empty", "no tasks"),
}
MALFORMED = {
    "malformed-plan-json": "cognitive_plan",
    "malformed-fields": "decision_id",
}


def plan_json(name: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["plan", str(DECISIONS / f"{name}.json"), "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_fixtures(name: str) -> None:
    count, band, disposition = VALID[name]
    code, doc = plan_json(name)
    assert code == 0
    assert doc["valid"] is True and doc["errors"] == []
    assert doc["disposition"] == disposition
    tickets = doc["tickets"]
    assert len(tickets) == count
    assert {t["risk_band"] for t in tickets} == {band}
    ids = {t["ticket_id"] for t in tickets}
    assert all(set(t["dependencies"]) <= ids for t in tickets)
    retries = {"critical": 5, "high": 3, "medium": 2, "low": 1}[band]
    assert {t["sla"]["max_retries"] for t in tickets} == {retries}
    strict = band in ("critical", "high")
    assert {t["qos"]["delivery_mode"] for t in tickets} == {
        "EXACTLY_ONCE" if strict else "AT_LEAST_ONCE"
    }


def test_critical_plan_is_restricted_and_has_two_roots() -> None:
    _, doc = plan_json("critical-security-3-task")
    assert {t["security_level"] for t in doc["tickets"]} == {"RESTRICTED"}
    assert {t["priority"] for t in doc["tickets"]} == {"CRITICAL"}
    assert sum(1 for t in doc["tickets"] if not t["dependencies"]) == 2


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_fixtures_exit_2_with_reason(name: str) -> None:
    code_expected, text = REFUSED[name]
    code, doc = plan_json(name)
    assert code == 2
    assert doc["valid"] is False and doc["tickets"] == []
    assert any(
        e["code"] == code_expected and text in e["message"] + e["path"] for e in doc["errors"]
    )


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_fixtures_name_the_field(name: str) -> None:
    code, doc = plan_json(name)
    assert code == 2
    assert MALFORMED[name] in {e["path"] for e in doc["errors"]}


def test_unreadable_input_exits_1(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["plan", str(tmp_path / "nope.json"), "--json"])
    assert missing.exit_code == 1
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00not json")
    assert runner.invoke(app, ["plan", str(garbage)]).exit_code == 1


def test_table_output_names_tasks_and_dependencies() -> None:
    result = runner.invoke(
        app, ["plan", str(DECISIONS / "approve-5-task-dag.json")], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0
    assert "t4-canary" in result.stdout and "t2-unit, t3-scan" in result.stdout


def test_console_script_runs_as_a_process() -> None:
    """The installed entry point, as a user would run it."""
    exe = Path(sys.executable).parent / "orchestrator-dynamic"
    proc = subprocess.run(
        [str(exe), "plan", str(DECISIONS / "invalid-cycle.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "dag.cycle" in proc.stderr


def test_config_masks_and_lists_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw-123")
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0
    values = json.loads(result.stdout)
    assert values["KAFKA_SASL_PASSWORD"] == "***"
    assert "TEMPORAL_TASK_QUEUE" in values
    monkeypatch.setenv("API_PORT", "nope")
    bad = runner.invoke(app, ["config"])
    assert bad.exit_code == 2 and "API_PORT" in bad.stderr


def upstream_file(tmp_path: Path) -> Path:
    """A decision as the consensus engine writes it on its JSON path (see tests/upstream.py)."""
    path = tmp_path / "upstream.json"
    path.write_bytes(as_json(upstream_decision()))
    return path


def test_a_consensus_engine_decision_plans_with_its_types_mapped(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(upstream_file(tmp_path)), "--json"])
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    types = {
        t["task_id"]: (t["task_type"], t["metadata"]["original_task_type"]) for t in doc["tickets"]
    }
    assert types == {
        "task_0": ("QUERY", "query"),
        "task_1": ("EXECUTE", "create"),
        "task_2": ("EXECUTE", "update"),
        "task_3": ("VALIDATE", "validate"),
    }
    assert doc["disposition"] == "run"


def test_plan_follows_the_alias_table_and_the_capability_allow_list(tmp_path: Path) -> None:
    path = str(upstream_file(tmp_path))
    no_alias = runner.invoke(app, ["plan", path, "--json"], env={"TASK_TYPE_ALIASES": "{}"})
    assert no_alias.exit_code == 2
    errors = json.loads(no_alias.stdout)["errors"]
    assert {e["path"] for e in errors} == {
        "cognitive_plan.tasks[task_1].task_type",
        "cognitive_plan.tasks[task_2].task_type",
    }
    spec = "code_generation,deployment,testing,validation"
    listed = runner.invoke(app, ["plan", path, "--json"], env={"OPA_ALLOWED_CAPABILITIES": spec})
    assert listed.exit_code == 2
    messages = " ".join(e["message"] for e in json.loads(listed.stdout)["errors"])
    assert 'capability "write"' in messages and 'capability "read"' in messages


def test_hash_mismatch_is_a_warning_or_a_refusal_as_the_service_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, doc = plan_json("hash-mismatch")
    assert code == 0 and doc["valid"] is True
    assert [w["code"] for w in doc["warnings"]] == ["decision.hash_mismatch"]
    table = runner.invoke(app, ["plan", str(DECISIONS / "hash-mismatch.json")])
    assert table.exit_code == 0 and "decision.hash_mismatch" in table.stderr
    code, doc = plan_json("approve-5-task-dag")
    assert doc["warnings"] == []
    monkeypatch.setenv("DECISION_HASH_VERIFY", "true")
    code, doc = plan_json("hash-mismatch")
    assert code == 2 and [e["code"] for e in doc["errors"]] == ["decision.hash_mismatch"]


def test_the_same_issue_is_reported_once() -> None:
    """The decision and its plan both carry valid_until: one finding naming both fields."""
    code, doc = plan_json("invalid-expired-plan")
    assert code == 2
    assert [e["code"] for e in doc["errors"]] == ["plan.expired"]
    assert doc["errors"][0]["path"] == "valid_until, cognitive_plan.valid_until"


def test_policy_warnings_are_shown_once_each() -> None:
    """The plan check and every ticket check see the same ticket; each warning shows once."""
    code, doc = plan_json("critical-security-3-task")
    assert code == 0
    messages = [w["message"] for w in doc["warnings"]]
    assert messages and len(messages) == len(set(messages))
    assert all(w["code"].startswith("policy.") for w in doc["warnings"])


def test_bad_settings_are_one_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "nope")
    result = runner.invoke(app, ["plan", str(DECISIONS / "approve-5-task-dag.json")])
    assert result.exit_code == 2 and "API_PORT" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)

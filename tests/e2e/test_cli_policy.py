"""`orchestrator-dynamic policy test|eval`, and policies in the `plan` dry run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from orchestrator_dynamic.entrypoints.cli import app
from tests.conftest import decision_doc

runner = CliRunner()


def with_task_change(tmp_path: Path, **changes: Any) -> Path:
    doc = decision_doc("approve-5-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    plan["tasks"][0].update(changes)
    doc["cognitive_plan"] = json.dumps(plan)
    path = tmp_path / "decision.json"
    path.write_text(json.dumps(doc))
    return path


def test_policy_test_runs_every_rego_test() -> None:
    result = runner.invoke(app, ["policy", "test", "--json"])
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert doc["failed"] == [] and doc["passed"] >= 50


def test_policy_test_fails_on_a_failing_test(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text("package demo\nimport rego.v1\n\ntest_no if { 1 == 2 }\n")
    result = runner.invoke(app, ["policy", "test", "--dir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert [f["name"] for f in json.loads(result.stdout)["failed"]] == ["test_no"]


def test_policy_eval_prints_the_decision(tmp_path: Path) -> None:
    ticket = {"task_id": "a", "required_capabilities": ["shell"], "parameters": {}}
    doc = {"tickets": [ticket], "config": {"allowed_capabilities": ["testing"]}}
    path = tmp_path / "input.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(app, ["policy", "eval", "resource_limits", "--input", str(path)])
    assert result.exit_code == 2
    decision = json.loads(result.stdout)
    assert decision["allow"] is False
    assert [v["rule"] for v in decision["violations"]] == ["capability_not_allowed"]


def test_policy_eval_refuses_an_unreadable_input(tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text("[1, 2]")
    result = runner.invoke(app, ["policy", "eval", "resource_limits", "--input", str(path)])
    assert result.exit_code == 1
    assert "must be a JSON object" in result.stderr


def test_plan_lists_policy_violations_with_the_rule(tmp_path: Path) -> None:
    path = with_task_change(tmp_path, required_capabilities=["shell"])
    env = {"OPA_ALLOWED_CAPABILITIES": "code_generation,deployment,testing,validation"}
    result = runner.invoke(app, ["plan", str(path), "--json"], env=env)
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert [e["code"] for e in doc["errors"]] == ["policy.resource_limits.capability_not_allowed"]
    assert "t1-build" in doc["errors"][0]["message"]


def test_plan_follows_the_configured_limits(tmp_path: Path) -> None:
    path = with_task_change(tmp_path, required_capabilities=["shell"])
    env = {"OPA_ALLOWED_CAPABILITIES": "shell,code_generation,testing,validation,deployment"}
    result = runner.invoke(app, ["plan", str(path), "--json"], env=env)
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["valid"] is True


def test_policy_eval_of_an_unknown_package_is_an_error_not_a_denial(tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text("{}")
    result = runner.invoke(app, ["policy", "eval", "no_such_policy", "--input", str(path)])
    assert result.exit_code == 1
    assert "no_such_policy" in result.stderr and result.stderr.count("\n") == 1
    assert result.stdout == ""

"""The Rego unit tests of every package pass, and the runner really reports failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import regorus

from orchestrator_dynamic.adapters.policy.rego_tests import run_rego_tests
from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR

PACKAGES = {
    "neuralhive.orchestrator.resource_limits",
    "neuralhive.orchestrator.sla_enforcement",
    "neuralhive.orchestrator.security_constraints",
    "neuralhive.orchestrator.feature_flags",
}


def test_every_rego_test_passes() -> None:
    results = run_rego_tests(DEFAULT_POLICY_DIR)
    failed = [(r.package, r.name, r.error) for r in results if not r.passed]
    assert failed == []
    assert {r.package for r in results} == PACKAGES
    assert len(results) >= 50


def test_every_violation_rule_has_a_rego_test() -> None:
    """Each rule name a policy can return appears in that package's tests."""
    for policy in DEFAULT_POLICY_DIR.rglob("*.rego"):
        if policy.stem.endswith("_test"):
            continue
        tests = policy.with_name(f"{policy.stem}_test.rego").read_text()
        for line in policy.read_text().splitlines():
            if 'violation("' in line:
                rule = line.split('violation("', 1)[1].split('"', 1)[0]
                assert rule in tests, f"{policy.name}: rule {rule} has no test"


def test_runner_reports_false_and_undefined_tests(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(
        "package demo\nimport rego.v1\n\n"
        "test_true if { 1 == 1 }\n\n"
        "test_false if { 1 == 2 }\n\n"
        "test_undefined if { input.missing == 1 }\n"
    )
    results = {r.name: r for r in run_rego_tests(tmp_path)}
    assert results["test_true"].passed
    assert not results["test_false"].passed
    assert not results["test_undefined"].passed


def test_a_syntax_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text("package demo\n\nallow if {\n")
    with pytest.raises(PolicyUnavailable, match=r"broken\.rego") as refused:
        run_rego_tests(tmp_path)
    # The half-built engine is not kept alive by the error: regorus must be freed on the thread
    # that made it, and an engine left to the cyclic collector is freed on any thread.
    kept = [
        name
        for entry in refused.traceback
        for name, value in entry.frame.f_locals.items()
        if isinstance(value, regorus.Engine)
    ]
    assert kept == []

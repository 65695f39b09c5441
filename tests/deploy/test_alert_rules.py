"""Every alert rule file in ops/prometheus, checked by the real promtool and amtool.

promtool and amtool come from Debian's prometheus and prometheus-alertmanager packages. Without
them the tests skip on a workstation but FAIL in CI (CI=true). Each rule file `X.yml` has its
unit tests in `X.test.yml`; each alert names its runbook, which must exist in docs/runbooks.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.sla.test_ops_files import tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "ops" / "prometheus"
ALERTMANAGER = ROOT / "ops" / "alertmanager" / "alertmanager.yml"
RULE_FILES = sorted(p for p in RULES_DIR.glob("*.yml") if not p.name.endswith(".test.yml"))


def alerts() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [r for r in group["rules"] if "alert" in r]
    return found


def run(*args: str) -> str:
    done = subprocess.run(
        args, cwd=RULES_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_new_rule_files_are_there() -> None:
    names = {p.name for p in RULE_FILES}
    assert {"sla-alerts.yml", "flow-alerts.yml", "policy-alerts.yml"} <= names


@pytest.mark.parametrize("rules", RULE_FILES, ids=lambda p: p.name)
def test_promtool_checks_and_unit_tests_every_rule_file(rules: Path) -> None:
    promtool = tool("promtool", "prometheus")
    run(promtool, "check", "rules", str(rules))
    unit_tests = rules.with_suffix(".test.yml")
    assert unit_tests.exists(), f"{rules.name} has no promtool unit tests ({unit_tests.name})"
    run(promtool, "test", "rules", str(unit_tests))


@pytest.mark.parametrize("rules", RULE_FILES, ids=lambda p: p.name)
def test_every_alert_of_a_file_is_unit_tested(rules: Path) -> None:
    tested = rules.with_suffix(".test.yml").read_text()
    for group in yaml.safe_load(rules.read_text())["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert f"alertname: {rule['alert']}\n" in tested, rule["alert"]


def test_every_alert_has_a_severity_and_a_runbook_that_exists() -> None:
    for rule in alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        url = rule["annotations"].get("runbook_url")
        assert url == f"docs/runbooks/{name}.md", f"{name}: runbook_url {url!r}"
        page = (ROOT / url).read_text()
        for section in ("## What it means", "## How to look", "## How to fix"):
            assert section in page, f"{url} lacks {section}"


def test_every_runbook_is_indexed() -> None:
    index = (ROOT / "docs" / "runbooks" / "README.md").read_text()
    for rule in alerts():
        assert f"({rule['alert']}.md)" in index, rule["alert"]


def test_alertmanager_routes_every_alert_by_its_severity() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    expected = {"critical": "pagerduty-critical", "warning": "slack-warnings"}
    for rule in alerts():
        severity = rule["labels"]["severity"]
        out = run(
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER}",
            f"alertname={rule['alert']}",
            f"severity={severity}",
            "team=orchestration",
        )
        assert out.strip() == expected[severity], rule["alert"]

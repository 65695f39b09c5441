"""The Prometheus alert rules and the Alertmanager config in ops/, checked by the real tools.

promtool and amtool come from Debian's prometheus and prometheus-alertmanager packages. Without
them the tests skip on a workstation but FAIL in CI (CI=true), so a broken file cannot pass there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

OPS = Path(__file__).resolve().parents[3] / "ops"
RULES = OPS / "prometheus" / "sla-alerts.yml"
RULE_TESTS = OPS / "prometheus" / "sla-alerts.test.yml"
FLOW_RULES = OPS / "prometheus" / "flow-alerts.yml"
FLOW_RULE_TESTS = OPS / "prometheus" / "flow-alerts.test.yml"
ALERTMANAGER = OPS / "alertmanager" / "alertmanager.yml"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found: install the Debian package {package}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str, cwd: Path = OPS) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_promtool_check_rules() -> None:
    out = run(tool("promtool", "prometheus"), "check", "rules", str(RULES))
    assert "SUCCESS: 5 rules found" in out


def test_promtool_unit_tests_of_the_alert_rules() -> None:
    run(tool("promtool", "prometheus"), "test", "rules", str(RULE_TESTS))


def test_promtool_check_flow_rules() -> None:
    out = run(tool("promtool", "prometheus"), "check", "rules", str(FLOW_RULES))
    assert "SUCCESS: 9 rules found" in out


def test_promtool_unit_tests_of_the_stuck_step_alert() -> None:
    run(tool("promtool", "prometheus"), "test", "rules", str(FLOW_RULE_TESTS))


def test_stuck_step_alert_pages() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    labels = ("severity=critical", "alertname=OrchestrationStepStuck")
    out = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert out.strip() == "pagerduty-critical"


def test_every_required_alert_is_defined() -> None:
    text = RULES.read_text()
    for name in ("SLABudgetCritical", "SLABudgetExhausted", "SLAHighBurnRate", "SLAViolationRate"):
        assert f"alert: {name}\n" in text


def test_amtool_check_config() -> None:
    out = run(tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER))
    assert "1 templates" in out


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("severity=critical", "alertname=SLABudgetExhausted"), "pagerduty-critical"),
        (("severity=warning", "alertname=SLAViolationRate"), "slack-warnings"),
    ],
)
def test_critical_pages_and_warnings_go_to_slack(labels: tuple[str, ...], receiver: str) -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    out = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert out.strip() == receiver


def test_message_templates_render() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    text = '{{ template "sla.slack.title" . }}|{{ template "sla.text" . }}'
    out = run(
        amtool,
        "template",
        "render",
        f"--template.glob={OPS / 'alertmanager' / 'templates' / '*.tmpl'}",
        f"--template.text={text}",
    )
    assert "Severity:" in out and "|" in out

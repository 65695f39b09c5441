"""The ML alert rules in ops/ (the specification's six), checked by the real promtool from
Debian's prometheus package: skipped on a workstation without it, failing in CI (CI=true)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.sla.test_ops_files import run, tool

pytestmark = pytest.mark.integration

PROMETHEUS = Path(__file__).resolve().parents[3] / "ops" / "prometheus"
SIX = (
    "MLPredictionHighErrorRate",
    "MLPredictionLatencyHigh",
    "MLModelLoadFailure",
    "MLDurationPredictionInaccurate",
    "MLTrainingFailed",
    "MLTrainingStale",
)


def test_promtool_checks_the_ml_rules() -> None:
    out = run(tool("promtool", "prometheus"), "check", "rules", str(PROMETHEUS / "ml-alerts.yml"))
    assert "SUCCESS: 6 rules found" in out


def test_promtool_unit_tests_of_the_ml_rules() -> None:
    run(tool("promtool", "prometheus"), "test", "rules", str(PROMETHEUS / "ml-alerts.test.yml"))


def test_every_ml_alert_fires_in_a_unit_test() -> None:
    rules = (PROMETHEUS / "ml-alerts.yml").read_text()
    tests = (PROMETHEUS / "ml-alerts.test.yml").read_text()
    for name in SIX:
        assert f"alert: {name}\n" in rules
        assert f"alertname: {name}\n" in tests


def test_every_metric_the_rules_read_exists() -> None:
    from orchestrator_dynamic.observability import ml_metrics

    names = {
        metric._name
        for metric in vars(ml_metrics).values()
        if hasattr(metric, "_name") and hasattr(metric, "collect")
    }
    rules = (PROMETHEUS / "ml-alerts.yml").read_text()
    for name in (
        "orchestration_ml_predictions",
        "orchestration_ml_prediction_duration_seconds",
        "orchestration_ml_model_load_errors",
        "orchestration_ml_model_accuracy",
        "orchestration_ml_training_runs",
        "orchestration_ml_last_training_timestamp_seconds",
    ):
        assert name in names
        assert name in rules

"""SLA settings become the monitor's configuration; bad values name the variable."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from orchestrator_dynamic import bootstrap
from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.settings import Settings, SettingsError, load_settings
from tests.fakes import MemoryStoreFake, RecordingPublisher


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_monitor_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLA_SLO_TARGETS", '{"orchestrator-dynamic": 0.995}')
    monkeypatch.setenv("SLA_SLO_WINDOW_DAYS", "7")
    monkeypatch.setenv("SLA_DEADLINE_WARNING_THRESHOLD", "0.75")
    monkeypatch.setenv("SLA_PROACTIVE_MONITORING_ENABLED", "false")
    config = bootstrap.sla_monitor_config(load_settings())
    assert config.budget.target_for("orchestrator-dynamic") == 0.995
    assert config.budget.target_for("elsewhere") == 0.99
    assert config.budget.window_ms == 7 * 24 * 3_600_000
    assert config.budget.critical_threshold == 0.2
    assert (config.warning_threshold, config.proactive, config.dedup_ttl_s) == (0.75, False, 300.0)
    assert (config.alerts_topic, config.violations_topic) == ("sla.alerts", "sla.violations")


@pytest.mark.parametrize("value", ['{"svc": 1.5}', '{"svc": true}', "[0.9]", "{nope"])
def test_bad_slo_targets_name_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SLA_SLO_TARGETS", value)
    with pytest.raises(SettingsError, match="SLA_SLO_TARGETS"):
        load_settings()


async def test_management_client_only_when_enabled() -> None:
    store, pub, cache = MemoryStoreFake(), RecordingPublisher(), MemoryCache()
    async with AsyncExitStack() as stack:
        plain = await bootstrap.open_sla_monitor(
            load_settings(), store, pub, cache, lambda: 0, stack
        )
        assert [b.source for b in await plain.budgets()] == ["workflow_results"]
        settings = load_settings(
            sla_management_enabled=True, sla_management_host="127.0.0.1", sla_management_port=9
        )
        remote = await bootstrap.open_sla_monitor(settings, store, pub, cache, lambda: 0, stack)
        # Nothing listens on port 9: fail-open to the monitor's own computation.
        assert [b.source for b in await remote.budgets()] == ["workflow_results"]

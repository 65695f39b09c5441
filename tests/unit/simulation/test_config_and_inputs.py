"""Settings and inputs of the simulator: values parsed, bad ones refused naming key or field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from orchestrator_dynamic.domain.scoring import Health, WorkerProfile
from orchestrator_dynamic.services.simulation.config import (
    Placement,
    SettingError,
    SimConfig,
    compare_values,
    sweep_values,
    with_setting,
)
from orchestrator_dynamic.services.simulation.inputs import SimInputError, load_plans, load_workers
from orchestrator_dynamic.services.workers import worker_doc
from tests.unit.simulation.plans import T0, plan_doc


def test_settings_are_parsed_and_checked() -> None:
    config = with_setting(SimConfig(), "placement", "Round_Robin")
    assert config.placement is Placement.ROUND_ROBIN
    assert with_setting(config, "risk-weight", "0.5").risk_weight == 0.5
    with pytest.raises(SettingError, match="unknown setting 'speed'"):
        with_setting(config, "speed", "1")
    with pytest.raises(SettingError, match="setting capacity: must be >= 1"):
        with_setting(config, "capacity", "0")
    with pytest.raises(SettingError, match="setting aging: 'fast' is not a valid value"):
        with_setting(config, "aging", "fast")
    assert with_setting(config, "score-tolerance", "0.2").score_tolerance == 0.2
    with pytest.raises(SettingError, match="setting score_tolerance: must be between 0 and 1"):
        with_setting(config, "score_tolerance", "1.5")


def test_compare_and_sweep_values() -> None:
    assert compare_values("workers=8,12") == ("workers", ["8", "12"])
    with pytest.raises(SettingError, match="at least two values"):
        compare_values("workers=8")
    assert sweep_values("aging=0..0.1:3") == ("aging", ["0", "0.05", "0.1"])
    assert sweep_values("workers=1..4:10") == ("workers", ["1", "2", "3", "4"])
    with pytest.raises(SettingError, match="only a numeric setting"):
        sweep_values("placement=1..2:2")
    with pytest.raises(SettingError, match=r"lo\.\.hi:steps"):
        sweep_values("aging=a..b:3")


def test_plans_arrive_at_created_at_or_spaced_and_bad_lines_are_dead_lettered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plans.jsonl"
    late, early = plan_doc(0, [("a", [], 1)], T0 + 5_000), plan_doc(1, [("a", [], 1)], T0)
    path.write_text(f"{json.dumps(late)}\nnot json\n{json.dumps(early)}\n")
    plans = load_plans(path)
    assert [a.arrival_ms for a in plans.arrivals] == [T0, T0 + 5_000]
    assert [d.line for d in plans.dead_letters] == [2]
    spaced = load_plans(path, spacing_ms=1_000)
    assert [a.arrival_ms for a in spaced.arrivals] == [T0 + 5_000, T0 + 6_000]
    path.write_text("nope\n")
    with pytest.raises(SimInputError, match=r"no decision to simulate.*line 1"):
        load_plans(path)


def test_workers_in_the_registry_shape(tmp_path: Path) -> None:
    path = tmp_path / "workers.json"
    doc = {"worker_id": "w1", "capabilities": ["testing"], "health": "degraded", "speed": 2}
    path.write_text(json.dumps({"workers": [doc]}))
    (w,) = load_workers(path)
    assert w.profile.health.value == "DEGRADED" and w.speed == 2
    path.write_text(json.dumps([doc, {**doc, "worker_id": "w2", "capabilities": []}]))
    with pytest.raises(SimInputError, match="worker 1: capabilities"):
        load_workers(path)
    path.write_text(json.dumps([doc, doc]))
    with pytest.raises(SimInputError, match="'w1' appears twice"):
        load_workers(path)


def test_a_registry_export_is_a_workers_file(tmp_path: Path) -> None:
    profile = WorkerProfile(
        "w1", frozenset({"testing"}), Health.DEGRADED, active_tasks=3, max_concurrent_tasks=4
    )
    path = tmp_path / "workers.json"
    path.write_text(json.dumps([worker_doc(profile)]))  # what `workers --json` prints
    (w,) = load_workers(path)
    assert w.profile == dataclasses.replace(profile, active_tasks=0)  # the simulation starts idle

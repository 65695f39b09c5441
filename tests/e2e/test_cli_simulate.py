"""`orchestrator-dynamic simulate` and `simulate generate` end to end (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator_dynamic.entrypoints.cli import app
from tests.conftest import FIXTURES

runner = CliRunner()
HISTORY = FIXTURES / "ml" / "ticket-history-sample.jsonl"


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("traffic")
    plans, fleet = folder / "day.jsonl", folder / "fleet.json"
    args = ["simulate", "generate", "--plans", "150", "--out", str(plans)]
    result = runner.invoke(app, [*args, "--workers", "4", "--workers-out", str(fleet)])
    assert result.exit_code == 0, result.output
    assert len(plans.read_text().splitlines()) == 150
    assert len(json.loads(fleet.read_text())) == 4
    return plans, fleet


def simulate(traffic: tuple[Path, Path], *args: str) -> tuple[int, str]:
    plans, fleet = traffic
    base = ["simulate", "--plans", str(plans), "--workers", str(fleet), "--durations", str(HISTORY)]
    result = runner.invoke(app, [*base, *args])
    return result.exit_code, result.output


def test_compare_prints_the_settings_side_by_side(traffic: tuple[Path, Path]) -> None:
    code, out = simulate(traffic, "--compare", "workers=1,8", "--set", "capacity=2")
    assert code == 0, out
    assert "workers=1" in out and "workers=8" in out
    for row in ("plans completed", "SLA misses (plans)", "makespan p95", "worker utilisation"):
        assert row in out
    assert "queue wait p95" in out and "compensations" in out


def test_json_has_one_report_per_setting(traffic: tuple[Path, Path]) -> None:
    code, out = simulate(traffic, "--compare", "workers=1,8", "--set", "capacity=2", "--json")
    assert code == 0, out
    small, large = json.loads(out)["settings"]
    assert (small["setting"], large["setting"]) == ("workers=1", "workers=8")
    assert small["config"]["capacity"] == 2
    assert small["report"]["plans"] == large["report"]["plans"] == 150
    # Two slots for a day's work against sixteen: the small fleet queues and misses more.
    assert small["report"]["plans_sla_violated"] > large["report"]["plans_sla_violated"]
    assert small["report"]["utilisation"] > large["report"]["utilisation"]


def test_sweep_names_the_best_value(traffic: tuple[Path, Path]) -> None:
    code, out = simulate(traffic, "--sweep", "capacity=1..4:4", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert [s["setting"] for s in doc["settings"]] == [f"capacity={i}" for i in range(1, 5)]
    misses = {s["setting"]: s["report"]["plans_sla_violated"] for s in doc["settings"]}
    assert misses[doc["best"]] == min(misses.values())
    code, out = simulate(traffic, "--sweep", "capacity=1..2:2")
    assert code == 0 and "Best capacity=" in out and "for SLA misses" in out


def test_plot_writes_a_small_png(traffic: tuple[Path, Path], tmp_path: Path) -> None:
    target = tmp_path / "what-if.png"
    code, out = simulate(
        traffic, "--compare", "placement=intelligent,round-robin,predicted", "--plot", str(target)
    )
    assert code == 0, out
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 200_000
    code, out = simulate(traffic, "--plot", str(tmp_path / "missing" / "x.png"))
    assert code == 1 and "cannot be written" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "bogus=1"], "unknown setting 'bogus'"),
        (["--set", "capacity=0"], "setting capacity: must be >= 1"),
        (["--compare", "workers=2,4", "--sweep", "aging=0..1:2"], "cannot be used together"),
        (["--sweep", "placement=1..2:2"], "only a numeric setting"),
    ],
)
def test_bad_settings_exit_2_naming_the_key(
    traffic: tuple[Path, Path], args: list[str], message: str
) -> None:
    code, out = simulate(traffic, *args)
    assert code == 2 and message in out


def test_missing_or_unreadable_inputs_exit_2(tmp_path: Path, traffic: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["simulate", "--plans", str(traffic[0])])
    assert result.exit_code == 2 and "--workers FILE" in result.output
    bad = tmp_path / "workers.json"
    bad.write_text('[{"worker_id": "w", "capabilities": ["x"], "max_concurrent_tasks": 0}]')
    result = runner.invoke(app, ["simulate", "--plans", str(traffic[0]), "--workers", str(bad)])
    assert result.exit_code == 2 and "worker 0: max_concurrent_tasks" in result.output

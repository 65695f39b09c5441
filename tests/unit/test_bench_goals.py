"""The bench summary: every expected goal shows, measured or not, and recorded goals replace
their row; the JSON file holds the same rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench import goals


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    goals.clear()
    yield
    goals.clear()


def test_goals_not_recorded_show_as_not_measured() -> None:
    rows = goals.summary()
    assert [g.name for g in rows] == [name for name, _ in goals.EXPECTED]
    assert {g.measured for g in rows} == {goals.NOT_MEASURED}
    assert goals.table(rows).endswith(f"0 met, 0 missed, {len(rows)} not measured")


def test_a_recorded_goal_replaces_its_row_and_an_unknown_one_is_added(tmp_path: Path) -> None:
    goals.record(goals.POLICY_P95, "120.0 us", "<= 100 us", False, 120.0)
    goals.record(goals.POLICY_P95, "90.0 us", "<= 100 us", True, 90.0)  # the last one counts
    goals.record("something else", "2x", "<= 3x", True)
    rows = goals.summary()
    [policy] = [g for g in rows if g.name == goals.POLICY_P95]
    assert (policy.measured, policy.verdict) == ("90.0 us", "met")
    assert rows[-1].name == "something else"
    text = goals.table(rows)
    assert f"2 met, 0 missed, {len(goals.EXPECTED) - 1} not measured" in text
    goals.write_json(rows, tmp_path / "summary.json")
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written[len(goals.EXPECTED)] == {
        "name": "something else",
        "measured": "2x",
        "target": "<= 3x",
        "met": True,
        "value": None,
    }

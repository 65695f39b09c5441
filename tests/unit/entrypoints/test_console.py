"""How the CLI shows values to people: local ISO times, `key=value` text, checked choices."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import typer
from rich.console import Console

from orchestrator_dynamic.entrypoints.console import cell, choice, is_time, local_time, table

# 2026-12-02T02:57:18.045Z
MOMENT_MS = 1796180238045


@pytest.fixture
def kolkata(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fixed local zone with a non-zero, non-hour offset, so local time is visible."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_epoch_ms_is_shown_as_local_iso_time(kolkata: None) -> None:
    assert local_time(MOMENT_MS) == "2026-12-02T08:27:18+05:30"
    assert local_time("2026-12-02T02:57:18+00:00") == "2026-12-02T08:27:18+05:30"
    assert local_time("not a time") == "not a time"


@pytest.mark.parametrize(
    "name", ["started_at", "consolidated_at", "timestamp", "deadline", "approval.approved_at"]
)
def test_time_fields_are_known_by_name(name: str) -> None:
    assert is_time(name)


@pytest.mark.parametrize("name", ["status", "sla_violations", "timeout", "nearest deadline"])
def test_other_fields_are_not_times(name: str) -> None:
    assert not is_time(name)


def test_cells_of_time_columns_are_local_times(kolkata: None) -> None:
    assert cell(MOMENT_MS, "started_at") == "2026-12-02T08:27:18+05:30"
    assert cell(MOMENT_MS, "actual_duration_ms") == str(MOMENT_MS)
    assert cell(None, "started_at") == ""


def test_nested_values_are_key_value_text_not_reprs(kolkata: None) -> None:
    assert cell({"violations_count": 0, "compliant": True}) == "violations_count=0, compliant=true"
    assert cell({"valid": True, "issues": [], "warnings": []}) == (
        "valid=true, issues=[], warnings=[]"
    )
    issues = {"valid": False, "issues": [{"code": "dag.cycle", "path": "tasks"}]}
    assert cell(issues) == "valid=false, issues=[(code=dag.cycle, path=tasks)]"
    assert cell(["code_generation", "testing"]) == "code_generation, testing"
    assert cell({"approved_at": MOMENT_MS, "by": "cab"}) == (
        "approved_at=2026-12-02T08:27:18+05:30, by=cab"
    )


def test_a_table_shows_neither_reprs_nor_epoch_ms(kolkata: None) -> None:
    out = Console(width=200, record=True)
    rows = [["dec-1", MOMENT_MS, {"violations_count": 1, "compliant": False}, None]]
    out.print(table("workflows", ["workflow_id", "consolidated_at", "sla_status", "x"], rows))
    text = out.export_text()
    assert "2026-12-02T08:27:18+05:30" in text and str(MOMENT_MS) not in text
    assert "violations_count=1, compliant=false" in text
    assert "{" not in text and "'" not in text and "None" not in text


def test_choices_match_any_case_and_return_the_canonical_spelling() -> None:
    assert choice("completed", ["RUNNING", "COMPLETED"], "--status") == "COMPLETED"
    assert choice(" High ", ["low", "high"], "--severity") == "high"
    assert choice(None, ["RUNNING"], "--status") is None


def test_an_unknown_choice_exits_2_naming_the_allowed_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as exited:
        choice("bogus", ["RUNNING", "COMPLETED"], "--status")
    assert exited.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--status 'bogus'" in err and "RUNNING, COMPLETED" in err

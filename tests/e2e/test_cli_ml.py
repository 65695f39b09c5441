"""`orchestrator-dynamic ml train|predict|status` through the CLI, on the embedded registry in a
fresh data directory (MLflow on SQLite, no server), from the repository's history sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator_dynamic.entrypoints.cli import app

runner = CliRunner()
ML = Path(__file__).resolve().parents[1] / "fixtures" / "ml"
HISTORY = ML / "ticket-history-sample.jsonl"
LABELLED = ML / "anomaly-labelled-sample.jsonl"


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("ML_MODEL_REGISTRY_URI", raising=False)
    monkeypatch.setenv("API_PORT", "1")  # `ml status` finds no running service there
    return tmp_path


def test_train_then_predict_then_status(fresh: Path) -> None:
    trained = runner.invoke(
        app, ["ml", "train", "--history", str(HISTORY), "--labels", str(LABELLED), "--json"]
    )
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["duration"]["promoted"] and report["anomaly"]["promoted"], report
    assert report["duration"]["metrics"]["mae_pct"] < report["baseline_mae_pct"]

    # Tickets as they are at allocation time: no actual duration, no status beyond PENDING.
    lines = [json.loads(line) for line in LABELLED.read_text().splitlines()[:40]]
    for doc in lines:
        doc.update(actual_duration_ms=None, status="PENDING", started_at=None, completed_at=None)
        doc.pop("label")
    wanted = fresh / "tickets.jsonl"
    wanted.write_text("\n".join(json.dumps(d) for d in lines) + "\n")
    predicted = runner.invoke(app, ["ml", "predict", "--input", str(wanted), "--json"])
    assert predicted.exit_code == 0, predicted.output
    answers = json.loads(predicted.stdout)
    assert [a["ticket_id"] for a in answers] == [d["ticket_id"] for d in lines]
    assert set(answers[0]) == {
        "ticket_id",
        "duration_ms",
        "duration_confidence",
        "is_anomaly",
        "anomaly_score",
        "anomaly_type",
    }
    assert any(a["is_anomaly"] for a in answers) and not all(a["is_anomaly"] for a in answers)

    status = runner.invoke(app, ["ml", "status", "--json"])
    assert status.exit_code == 0, status.output
    doc = json.loads(status.stdout)
    assert [m["production_version"] for m in doc["models"]] == ["1", "1"]
    assert doc["models"][0]["metrics"]["mae_pct"] == report["duration"]["metrics"]["mae_pct"]
    assert doc["live_mae_pct"] is None


def test_bad_history_names_the_line_and_field(fresh: Path) -> None:
    bad = fresh / "bad.jsonl"
    good = HISTORY.read_text().splitlines()[0]
    broken = json.loads(good)
    broken["risk_band"] = "extreme"
    bad.write_text(good + "\n" + json.dumps(broken) + "\n")
    result = runner.invoke(app, ["ml", "train", "--history", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl line 2: risk_band" in result.output


def test_too_little_history_is_refused(fresh: Path) -> None:
    few = fresh / "few.jsonl"
    few.write_text("\n".join(HISTORY.read_text().splitlines()[:10]) + "\n")
    result = runner.invoke(app, ["ml", "train", "--history", str(few)])
    assert result.exit_code == 2
    assert "not enough history" in result.output and "ML_MIN_TRAINING_SAMPLES" in result.output


def test_the_commands_leave_logging_as_they_found_it(fresh: Path) -> None:
    """A command run by a test runner must not keep the runner's (soon closed) streams: later
    log lines anywhere in the process would fail with "I/O operation on closed file"."""
    import structlog

    before = structlog.get_config()
    result = runner.invoke(app, ["ml", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert structlog.get_config() == before
    structlog.get_logger("after").warning("still_writable")

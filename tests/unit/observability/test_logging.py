"""structlog set-up: level honoured, JSON lines with the bound correlation ids, no secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from orchestrator_dynamic.observability.logging import configure_logging


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_json_lines_carry_bound_ids_and_respect_the_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("WARNING", "json")
    log = structlog.get_logger("test")
    with structlog.contextvars.bound_contextvars(workflow_id="wf-1", decision_id="dec-1"):
        log.info("too_quiet")
        log.warning("ticket_late", ticket_id="t-1")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["ticket_late"]
    [line] = lines
    assert line["workflow_id"] == "wf-1"
    assert line["decision_id"] == "dec-1"
    assert line["ticket_id"] == "t-1"
    assert line["level"] == "warning"
    assert "timestamp" in line


def test_secrets_never_reach_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", "json")
    structlog.get_logger("test").debug("connecting", password="hunter2", token="abc", host="db")
    [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert line["password"] == "***"
    assert line["token"] == "***"
    assert line["host"] == "db"
    assert "hunter2" not in json.dumps(line)


def test_console_format_is_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "console")
    structlog.get_logger("test").info("started", port=8000)
    err = capsys.readouterr().err
    assert "started" in err
    assert "port=8000" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)

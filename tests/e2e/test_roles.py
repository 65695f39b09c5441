"""The role commands: one replica each, on an existing Temporal. A start that cannot happen is
one line naming the setting; a role whose Temporal does not answer says so in one line too."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from orchestrator_dynamic.entrypoints.cli import app
from tests.e2e.service import free_port
from tests.e2e.test_cli_errors import one_line_error

pytestmark = pytest.mark.e2e
runner = CliRunner()


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """A role configures logging onto the stderr the runner captures, which is closed after
    the command: later tests of this process would log into a closed file."""
    saved, handlers = structlog.get_config(), list(logging.getLogger().handlers)
    yield
    structlog.configure(**saved)
    logging.getLogger().handlers[:] = handlers


@pytest.mark.parametrize("role", ["worker", "intake", "api"])
def test_a_role_without_temporal_host_refuses_in_one_line(
    role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEMPORAL_HOST", raising=False)
    result = runner.invoke(app, [role, "--data-dir", str(tmp_path)])
    one_line_error(result, 2, f"the {role} role connects to an existing Temporal", "TEMPORAL_HOST")


def test_a_role_whose_temporal_does_not_answer_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_HOST", "127.0.0.1")
    monkeypatch.setenv("TEMPORAL_PORT", str(free_port()))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["worker"])
    one_line_error(result, 1, "cannot start", "TEMPORAL")

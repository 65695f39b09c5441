"""User errors in the CLI are one line and an exit code, never a traceback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from orchestrator_dynamic.entrypoints.cli import app
from tests.e2e.service import free_port

runner = CliRunner()


def one_line_error(result: Result, code: int, *words: str) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>a proxy login page</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_the_api() -> Iterator[str]:
    """Some other HTTP server where the API was expected."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_api_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    one_line_error(runner.invoke(app, ["list", "--api-url", url]), 1, "API unreachable")


def test_something_else_answers_where_the_api_should(not_the_api: str) -> None:
    result = runner.invoke(app, ["workers", "--api-url", not_the_api])
    one_line_error(result, 1, "not the orchestrator API")


def test_bad_settings_before_calling_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "nope")
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2 and "API_PORT" in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_unreadable_decision_files(tmp_path: Path) -> None:
    one_line_error(runner.invoke(app, ["submit", str(tmp_path)]), 1, "cannot read")
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff\xfe not json")
    one_line_error(runner.invoke(app, ["submit", str(garbage)]), 1, "cannot read")


def test_store_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STORE_URL", "bogus://somewhere")
    purge = runner.invoke(app, ["store", "purge", "--days", '{"incidents": 1}'])
    one_line_error(purge, 2, "STORE_URL")
    one_line_error(runner.invoke(app, ["store", "purge", "--days", "[1"]), 2, "--days")
    monkeypatch.delenv("STORE_URL")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("DATA_DIR", str(blocker / "data"))
    one_line_error(runner.invoke(app, ["store", "spool"]), 1, "DATA_DIR")


def test_policy_directory_missing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "test", "--dir", str(tmp_path / "none")])
    one_line_error(result, 2, "does not exist")
    path = tmp_path / "input.json"
    path.write_text("{}")
    evaluated = runner.invoke(
        app,
        [
            "policy",
            "eval",
            "resource_limits",
            "--input",
            str(path),
            "--dir",
            str(tmp_path / "none"),
        ],
    )
    one_line_error(evaluated, 1)


def test_plan_with_unreadable_policies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPA_POLICY_DIR", str(tmp_path / "none"))
    decision = Path(__file__).parent.parent / "fixtures" / "decisions" / "approve-5-task-dag.json"
    result = runner.invoke(app, ["plan", str(decision), "--json"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert [e["code"] for e in json.loads(result.stdout)["errors"]] == ["policy.unavailable"]

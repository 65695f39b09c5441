"""`submit`, `status`, `list` and `history` through the CLI against a real `up` process:
every `submit --wait` outcome has its exit code, tables are for people (local times,
`key=value` cells), filters take any case and refuse unknown values in one line."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DECISIONS, decision_doc
from tests.e2e.service import BIN, Service

pytestmark = pytest.mark.e2e
MANUAL = "manual-1"  # an HTTP worker the test answers for, in its own namespace
KOLKATA = {"TZ": "Asia/Kolkata"}  # a local zone whose offset cannot be mistaken for UTC


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(tmp_path_factory.mktemp("up-cli"))
    svc.start(demo_workers=4)
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


def cli(
    service: Service, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "orchestrator-dynamic"), *args, "--api-url", service.url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**service.env, **(env or {})},
        check=False,
    )


def start_cli(service: Service, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "orchestrator-dynamic"), *args, "--api-url", service.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=service.env,
    )


def api(service: Service, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{service.url}/api/v1{path}", json=body, timeout=10)


def decision_file(
    service: Service, tmp_path: Path, fixture: str, decision_id: str, manual: bool = False
) -> Path:
    """A fixture under a new id; ``manual`` puts every task in the namespace of the test's own
    HTTP worker, so the test decides when and how each ticket ends."""
    doc = decision_doc(fixture)
    doc["decision_id"] = decision_id
    if manual:
        plan = json.loads(doc["cognitive_plan"])
        for task in plan["tasks"]:
            task["parameters"] = {**task.get("parameters", {}), "namespace": "manual"}
        doc["cognitive_plan"] = json.dumps(plan)
        worker = {
            "worker_id": MANUAL,
            "capabilities": ["code_generation", "testing", "validation", "deployment"],
            "namespace": "manual",
            "security_level": "RESTRICTED",
        }
        assert api(service, "POST", "/workers", worker).status_code in (200, 201)
    path = tmp_path / f"{decision_id}.json"
    path.write_text(json.dumps(doc))
    return path


def running_tickets(service: Service, workflow_id: str) -> list[dict[str, Any]]:
    response = api(service, "GET", f"/workflows/{workflow_id}")
    if response.status_code != 200:
        return []
    return [t for t in response.json()["tickets"] if t["status"] == "RUNNING"]


def wait_running(service: Service, workflow_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if found := running_tickets(service, workflow_id):
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"{workflow_id}: no ticket started")


def fail_ticket(service: Service, ticket: dict[str, Any]) -> None:
    result = {
        "ticket_id": ticket["ticket_id"],
        "status": "FAILED",
        "result": {"success": False},
        "error_message": "disk full",
        "agent_id": MANUAL,
        "timestamp": int(time.time() * 1000),
    }
    response = api(service, "POST", f"/tickets/{ticket['ticket_id']}/result", result)
    assert response.status_code == 202, response.text


def outcome(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, json.loads(out), err


# ---------------------------------------------------------------- submit --wait exit codes


def test_wait_exits_0_when_completed(service: Service) -> None:
    proc = cli(service, "submit", str(DECISIONS / "approve-5-task-dag.json"), "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "COMPLETED"


def test_wait_exits_3_when_skipped(service: Service) -> None:
    proc = cli(service, "submit", str(DECISIONS / "rejected.json"), "--wait", "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "SKIPPED" and doc["tickets"] == []
    table = cli(service, "submit", str(DECISIONS / "rejected.json"), "--wait")
    assert table.returncode == 3 and "SKIPPED" in table.stdout
    # Without --wait the submission itself succeeded: exit 0.
    assert cli(service, "submit", str(DECISIONS / "rejected.json")).returncode == 0


def test_wait_exits_3_when_refused(service: Service) -> None:
    proc = cli(service, "submit", str(DECISIONS / "invalid-cycle.json"), "--wait", "--json")
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["status"] == "REFUSED"


def test_wait_exits_3_while_awaiting_approval_and_when_rejected(
    service: Service, tmp_path: Path
) -> None:
    path = decision_file(service, tmp_path, "review-required", "dec-cli-review")
    proc = cli(service, "submit", str(path), "--wait", "--json")
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["status"] == "AWAITING_APPROVAL"
    assert "approve dec-cli-review" in proc.stderr
    assert cli(service, "reject", "dec-cli-review", "--reason", "not now").returncode == 0
    again = cli(service, "submit", str(path), "--wait", "--json")
    assert again.returncode == 3
    assert json.loads(again.stdout)["status"] == "REJECTED"


def test_wait_exits_3_when_failed(service: Service, tmp_path: Path) -> None:
    path = decision_file(
        service, tmp_path, "low-risk-lowercase-types", "dec-cli-failed", manual=True
    )
    proc = start_cli(service, "submit", str(path), "--wait", "--json")
    failed: set[tuple[str, int]] = set()
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        for ticket in running_tickets(service, "dec-cli-failed"):
            if (attempt := (ticket["ticket_id"], ticket["retry_count"])) not in failed:
                fail_ticket(service, ticket)
                failed.add(attempt)
        time.sleep(0.2)
    code, doc, _ = outcome(proc)
    assert code == 3 and doc["status"] == "FAILED", doc
    # Severity filters take any case (the store keeps them in lower case).
    incidents = cli(service, "history", "incidents", "--severity", "HIGH", "--json")
    assert incidents.returncode == 0, incidents.stderr
    assert "dec-cli-failed" in {i["workflow_id"] for i in json.loads(incidents.stdout)}


def test_wait_exits_3_when_cancelled(service: Service, tmp_path: Path) -> None:
    path = decision_file(
        service, tmp_path, "low-risk-lowercase-types", "dec-cli-cancel", manual=True
    )
    proc = start_cli(service, "submit", str(path), "--wait", "--json")
    wait_running(service, "dec-cli-cancel")
    assert cli(service, "cancel", "dec-cli-cancel", "--reason", "test").returncode == 0
    code, doc, _ = outcome(proc)
    assert code == 3 and doc["status"] == "CANCELLED", doc


def test_wait_exits_3_when_it_does_not_end_in_time(service: Service, tmp_path: Path) -> None:
    path = decision_file(service, tmp_path, "low-risk-lowercase-types", "dec-cli-slow", manual=True)
    proc = cli(service, "submit", str(path), "--wait", "--json", "--timeout", "2")
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["status"] == "RUNNING"
    assert "still RUNNING after 2 s" in proc.stderr and "Traceback" not in proc.stderr
    assert cli(service, "cancel", "dec-cli-slow").returncode == 0


def test_errors_before_an_outcome_exit_1_or_2(service: Service, tmp_path: Path) -> None:
    malformed = cli(service, "submit", str(DECISIONS / "malformed-fields.json"), "--wait")
    assert malformed.returncode == 2
    # Each invalid field once: not in a joined detail line and again in the list.
    assert malformed.stderr.count("decision_id") == 1, malformed.stderr
    missing = cli(service, "submit", str(tmp_path / "nope.json"), "--wait")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1


# ---------------------------------------------------------------- tables and filters


def test_tables_show_local_times_and_no_reprs(service: Service) -> None:
    code = cli(service, "submit", str(DECISIONS / "conditional-approval.json"), "--wait")
    assert code.returncode == 0, code.stderr
    started = [r["started_at"] for r in json.loads(cli(service, "list", "--json").stdout)]
    listing = cli(service, "list", env=KOLKATA)
    assert "+05:30" in listing.stdout
    assert not any(str(ms) in listing.stdout for ms in started)
    status = cli(service, "status", "dec-0004", env=KOLKATA)
    assert status.returncode == 0 and "+05:30" in status.stdout
    history = cli(service, "history", "workflows", env=KOLKATA)
    assert "compliant=true" in history.stdout and "+05:30" in history.stdout
    assert "{" not in history.stdout and "'" not in history.stdout
    plan_id = json.loads(cli(service, "list", "--json").stdout)[0]["plan_id"]
    validations = cli(service, "history", "validations", plan_id)
    assert "valid=true" in validations.stdout and "{" not in validations.stdout


def test_status_filters_take_any_case(service: Service) -> None:
    assert (
        cli(service, "submit", str(DECISIONS / "approve-5-task-dag.json"), "--wait").returncode == 0
    )
    for args in (
        ("list", "--status", "completed"),
        ("history", "workflows", "--status", "Completed"),
        ("history", "tickets", "--status", "completed", "--task-type", "build"),
    ):
        proc = cli(service, *args, "--json")
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)
        assert rows and all(r["status"] == "COMPLETED" for r in rows), args


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (("list", "--status", "DONE"), "AWAITING_APPROVAL"),
        (("history", "workflows", "--status", "DONE"), "CANCELLED"),
        (("history", "tickets", "--status", "DONE"), "COMPENSATED"),
        (("history", "tickets", "--task-type", "cook"), "DEPLOY"),
        (("history", "incidents", "--severity", "huge"), "critical"),
    ],
)
def test_unknown_filter_values_are_refused_in_one_line(
    service: Service, args: tuple[str, ...], allowed: str
) -> None:
    proc = cli(service, *args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and allowed in proc.stderr, proc.stderr


def test_audit_lists_operator_actions_with_dates(service: Service, tmp_path: Path) -> None:
    path = decision_file(service, tmp_path, "review-required", "dec-cli-audit")
    assert cli(service, "submit", str(path), "--wait").returncode == 3  # awaiting approval
    assert cli(service, "approve", "dec-cli-audit", "--reason", "audited").returncode == 0
    assert cli(service, "cancel", "dec-cli-nobody", "--reason", "typo").returncode != 0
    table = cli(service, "audit", "--target", "dec-cli-audit", env=KOLKATA)
    assert table.returncode == 0, table.stderr
    assert "approve" in table.stdout and "accepted" in table.stdout and "audited" in table.stdout
    assert "+05:30" in table.stdout  # times as dates, in the local zone
    code, rows = service.cli_json("audit", "--action", "cancel")
    assert code == 0
    refused = next(r for r in rows if r["target"] == "dec-cli-nobody")
    assert refused["outcome"].startswith("refused: NotFound")
    assert refused["source"] == "127.0.0.1" and refused["scope"] == "admin"
    bad = cli(service, "audit", "--action", "delete")
    assert bad.returncode == 2 and "--action" in bad.stderr

"""`explain` and `workers` through the CLI against a real `up` process with demo agents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.service import Service

pytestmark = pytest.mark.e2e
DECISIONS = Path(__file__).parent.parent / "fixtures" / "decisions"
EXPLAIN_KEYS = {
    "ticket_id", "worker_id", "allocation_method", "priority_score", "candidates", "filtered_out",
    "queue",
}  # fmt: skip
FLEET = {f"demo-agent-{i}" for i in range(1, 5)}
CANDIDATE_KEYS = {
    "worker_id", "capabilities", "health", "eligible", "reason", "agent_score", "worker_score",
    "in_flight", "predicted_queue_ms", "predicted_load_pct", "predicted_completion_ms",
    "meets_deadline",
}  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(tmp_path_factory.mktemp("up-scheduler"))
    svc.start(demo_workers=4)
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


def test_explain_says_why_each_ticket_went_where(service: Service) -> None:
    code, run = service.cli_json("submit", str(DECISIONS / "approve-5-task-dag.json"), "--wait")
    assert code == 0 and run["status"] == "COMPLETED", run
    for ticket in run["tickets"]:
        code, doc = service.cli_json("explain", ticket["ticket_id"])
        assert code == 0
        assert set(doc) == EXPLAIN_KEYS
        assert doc["ticket_id"] == ticket["ticket_id"]
        assert doc["worker_id"] == ticket["worker_id"] and doc["worker_id"].startswith("demo-")
        assert doc["allocation_method"] == "intelligent"
        assert 0 < doc["priority_score"] <= 1
        rows = doc["candidates"]
        assert rows and all(set(c) == CANDIDATE_KEYS for c in rows)
        assert rows[0]["worker_id"] == doc["worker_id"] and rows[0]["eligible"]
        for c in rows:
            assert c["eligible"] == (c["reason"] is None)
            assert (c["predicted_queue_ms"] is not None) == c["eligible"]
        assert doc["queue"]["duration_source"] in ("estimate", "none")  # ML is off here
        # Every worker of the fleet is either a candidate or filtered out with a reason.
        dropped = {w["worker_id"]: w["reason"] for w in doc["filtered_out"]}
        assert {c["worker_id"] for c in rows} | set(dropped) >= FLEET
        assert all(dropped.values())
    ticket = run["tickets"][0]  # t1-build needs code_generation: demo agents 2 and 3 lack it
    code, doc = service.cli_json("explain", ticket["ticket_id"])
    assert {w["worker_id"]: w["reason"] for w in doc["filtered_out"]} == {
        "demo-agent-2": "missing capabilities: code_generation",
        "demo-agent-3": "missing capabilities: code_generation",
    }
    table = service.cli("explain", ticket["ticket_id"])
    assert table.returncode == 0 and "Candidates, best first" in table.stdout
    assert "queue ms" in table.stdout and "Pick: best score meets the deadline" in table.stdout
    assert "Filtered out" in table.stdout and "missing capabilities" in table.stdout


def test_explain_of_an_unplaceable_ticket_says_why_no_worker_took_it(
    service: Service, tmp_path: Path
) -> None:
    doc = json.loads((DECISIONS / "low-risk-lowercase-types.json").read_text())
    doc["decision_id"] = "dec-nowhere"
    plan = json.loads(doc["cognitive_plan"])
    for task in plan["tasks"]:
        task["parameters"] = {"namespace": "nowhere"}
    doc["cognitive_plan"] = json.dumps(plan)
    path = tmp_path / "nowhere.json"
    path.write_text(json.dumps(doc))
    # Whatever becomes of an unassigned ticket, its allocation is recorded by then.
    _, view = service.cli_json("submit", str(path), "--wait", "--timeout", "20")
    code, explained = service.cli_json("explain", view["tickets"][0]["ticket_id"])
    assert code == 0 and explained["worker_id"] is None and explained["candidates"] == []
    dropped = {w["worker_id"]: w["reason"] for w in explained["filtered_out"]}
    assert set(dropped) == FLEET
    assert dropped["demo-agent-1"] == "namespace 'default' is not 'nowhere'"


def test_explain_of_an_unknown_ticket_fails_clearly(service: Service) -> None:
    proc = service.cli("explain", "no-such-ticket")
    assert proc.returncode == 1 and "no-such-ticket" in proc.stderr


def test_workers_lists_the_demo_fleet_and_http_registrations(service: Service) -> None:
    code, fleet = service.cli_json("workers")
    assert code == 0
    assert [w["worker_id"] for w in fleet] == [f"demo-agent-{i}" for i in range(1, 5)]
    assert len({tuple(w["capabilities"]) for w in fleet}) == 4  # a mix, so matching matters
    body = {"worker_id": "http-gpu-1", "capabilities": ["gpu"], "namespace": "ml"}
    assert httpx.post(f"{service.url}/api/v1/workers", json=body).status_code == 201
    code, gpu = service.cli_json("workers", "--capability", "gpu")
    assert [w["worker_id"] for w in gpu] == ["http-gpu-1"]
    table = service.cli("workers")
    assert table.returncode == 0 and "5 workers" in table.stdout

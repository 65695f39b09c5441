"""Flow C through the HTTP API (in-process ASGI), on a real Temporal dev server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.services.operations import Operations
from orchestrator_dynamic.services.readiness import Check, Readiness
from tests.conftest import decision_doc
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig, now_ms

pytestmark = pytest.mark.e2e


class Services:
    def __init__(self, rig: FlowRig) -> None:
        self.operations = Operations(rig.gateway, rig.store, now_ms)

        async def down() -> None:
            raise RuntimeError("cache unreachable")

        self.readiness = Readiness(
            [Check("workflow_engine", rig.gateway.ping), Check("cache", down, required=False)]
        )


@pytest.fixture
async def api(temporal_env: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FlowRig]]:
    rig = FlowRig(temporal_env.client, FAST, lambda t: True)
    app = create_app(Services(rig), {"admin-token": "admin", "read-token": "read"}, 64 * 1024)
    transport = httpx.ASGITransport(app=app)
    async with rig.worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, rig


ADMIN = {"Authorization": "Bearer admin-token"}
READ = {"Authorization": "Bearer read-token"}


def unique(name: str) -> dict[str, Any]:
    doc = decision_doc(name)
    doc["decision_id"] = f"{doc['decision_id']}-{now_ms()}"
    return doc


async def wait_status(http: httpx.AsyncClient, workflow_id: str, *statuses: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            response = await http.get(f"/api/v1/workflows/{workflow_id}", headers=READ)
            if response.status_code == 200 and response.json()["status"] in statuses:
                body: dict[str, Any] = response.json()
                return body
            await asyncio.sleep(0.05)


async def test_submit_runs_and_status_shows_tickets(api: Any) -> None:
    http, _ = api
    doc = unique("approve-5-task-dag")
    response = await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "workflow_id": doc["decision_id"],
        "disposition": "started",
        "status": "VALIDATING",
    }
    again = await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
    assert again.json()["workflow_id"] == doc["decision_id"]
    assert again.json()["disposition"] == "existing"
    view = await wait_status(http, doc["decision_id"], "COMPLETED")
    assert len(view["tickets"]) == 5
    ticket_id = view["tickets"][0]["ticket_id"]
    detail = await http.get(f"/api/v1/tickets/{ticket_id}", headers=READ)
    assert detail.status_code == 200
    assert detail.json()["ticket"]["status"] in ("RUNNING", "COMPLETED")
    assert [h["event"] for h in detail.json()["history"]][:2] == ["DISPATCHED", "COMPLETED"]
    listing = await http.get("/api/v1/workflows", params={"status": "COMPLETED"}, headers=READ)
    assert doc["decision_id"] in [w["workflow_id"] for w in listing.json()]


async def test_malformed_decision_is_a_problem_naming_the_field(api: Any) -> None:
    http, _ = api
    doc = decision_doc("malformed-fields")
    response = await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"decision_id", "aggregated_confidence"} <= fields


async def test_truncated_plan_is_refused_with_cognitive_plan_named(api: Any) -> None:
    http, _ = api
    response = await http.post(
        "/api/v1/decisions", json=decision_doc("malformed-plan-json"), headers=ADMIN
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cognitive_plan"


async def test_approval_through_the_api(api: Any) -> None:
    http, _ = api
    doc = unique("review-required")
    await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
    await wait_status(http, doc["decision_id"], "AWAITING_APPROVAL")
    forbidden = await http.post(
        f"/api/v1/workflows/{doc['decision_id']}/approve", json={"by": "x"}, headers=READ
    )
    assert forbidden.status_code == 403
    ok = await http.post(
        f"/api/v1/workflows/{doc['decision_id']}/approve",
        json={"by": "alice", "reason": "ok"},
        headers=ADMIN,
    )
    assert ok.status_code == 202
    view = await wait_status(http, doc["decision_id"], "COMPLETED")
    assert view["approval"]["by"] == "alice"
    twice = await http.post(
        f"/api/v1/workflows/{doc['decision_id']}/approve", json={"by": "bob"}, headers=ADMIN
    )
    assert twice.status_code == 409


async def test_auth_and_limits(api: Any) -> None:
    http, _ = api
    assert (await http.get("/api/v1/workflows")).status_code == 401
    wrong = await http.get("/api/v1/workflows", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (await http.get("/health")).json() == {"status": "ok"}
    big = await http.post("/api/v1/decisions", content=b"{" + b" " * 70_000 + b"}", headers=ADMIN)
    assert big.status_code == 413
    missing = await http.get("/api/v1/workflows/does-not-exist", headers=READ)
    assert missing.status_code == 404
    ready = await http.get("/ready")
    assert ready.status_code == 200
    deps = {d["name"]: d for d in ready.json()["dependencies"]}
    assert deps["workflow_engine"]["ok"] and not deps["cache"]["ok"]
    assert "orchestration_workflows_started_total" in (await http.get("/metrics")).text

"""What the API does with bodies that are too large, not JSON, or not valid JSON, with operator
actions that carry no body, and with states: the statuses `submit`, `list` and `status` report.

In-process ASGI app over a real Temporal dev server (the flow rig of the integration tests).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType

from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.entrypoints.api.app import create_app
from tests.e2e.test_api_flow import ADMIN, READ, Services, unique, wait_status
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig

pytestmark = pytest.mark.e2e

LIMIT = 64 * 1024


@pytest.fixture
async def api(temporal_env: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FlowRig]]:
    rig = FlowRig(temporal_env.client, FAST, lambda t: True)
    app = create_app(Services(rig), {"admin-token": "admin", "read-token": "read"}, LIMIT)
    transport = httpx.ASGITransport(app=app)
    async with rig.worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, rig


def _fresh(name: str) -> dict[str, Any]:
    """A fixture decision with an id no other test uses (two in one millisecond differ too)."""
    doc = unique(name)
    doc["decision_id"] = f"{doc['decision_id']}-{uuid.uuid4().hex[:6]}"
    return doc


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def _chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _padded(name: str, size: int) -> dict[str, Any]:
    """A valid decision made `size` bytes bigger by a long task description in its plan."""
    doc = _fresh(name)
    plan = json.loads(doc["cognitive_plan"])
    plan["tasks"][0]["description"] = "x" * size
    doc["cognitive_plan"] = json.dumps(plan)
    return doc


async def test_a_chunked_body_over_the_limit_is_413_and_nothing_runs(api: Any) -> None:
    http, rig = api
    doc = _padded("approve-5-task-dag", LIMIT)
    data = json.dumps(doc).encode()
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = await http.post("/api/v1/decisions", content=_chunks(data), headers=headers)
    assert "content-length" not in response.request.headers  # it really went chunked
    problem = _problem(response, 413)
    assert str(LIMIT) in problem["detail"]
    assert await rig.store.get(Collection.DECISIONS, doc["decision_id"]) is None
    missing = await http.get(f"/api/v1/workflows/{doc['decision_id']}", headers=READ)
    assert missing.status_code == 404


async def test_a_content_length_over_the_limit_is_413(api: Any) -> None:
    http, _ = api
    body = b"{" + b" " * LIMIT + b"}"
    _problem(await http.post("/api/v1/decisions", content=body, headers=ADMIN), 413)


async def test_a_non_json_content_type_is_415(api: Any) -> None:
    http, _ = api
    doc = _fresh("approve-5-task-dag")
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        headers = {**ADMIN, "Content-Type": content_type}
        response = await http.post("/api/v1/decisions", content=json.dumps(doc), headers=headers)
        problem = _problem(response, 415)
        assert content_type in problem["detail"]
    headers = {**ADMIN, "Content-Type": "application/json; charset=utf-8"}
    accepted = await http.post("/api/v1/decisions", content=json.dumps(doc), headers=headers)
    assert accepted.status_code == 202, accepted.text


async def test_invalid_json_names_line_and_column_not_an_offset_as_field(api: Any) -> None:
    http, _ = api
    body = b'{\n  "decision_id": "d1",\n  "plan_id": ,\n}'
    headers = {**ADMIN, "Content-Type": "application/json"}
    problem = _problem(await http.post("/api/v1/decisions", content=body, headers=headers), 422)
    [error] = problem["errors"]
    assert error["field"] == "" and error["code"] == "json_invalid"
    assert "line 3, column 14" in error["reason"], error
    assert "line 3, column 14" in problem["detail"]


async def test_invalid_content_names_the_json_path(api: Any) -> None:
    http, _ = api
    doc = _fresh("approve-5-task-dag")
    doc["aggregated_confidence"] = "very"
    problem = _problem(await http.post("/api/v1/decisions", json=doc, headers=ADMIN), 422)
    assert [e["field"] for e in problem["errors"]] == ["aggregated_confidence"]


async def test_a_decision_the_engine_refuses_for_size_is_413_and_in_the_ledger(
    temporal_env: Any,
) -> None:
    """The API's own limit raised above the engine's blob limit (2 MB): the engine's refusal is a
    permanent 413, not a retryable 503, and the ledger says why."""
    rig = FlowRig(temporal_env.client, FAST, lambda t: True)
    app = create_app(Services(rig), {"admin-token": "admin"}, 8 << 20)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        doc = _padded("approve-5-task-dag", 2_200_000)
        response = await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
    problem = _problem(response, 413)
    assert problem["errors"][0]["code"] == "decision.too_large"
    record = await rig.store.get(Collection.DECISIONS, doc["decision_id"])
    assert record is not None and record["disposition"] == "refused", record
    assert "too large" in record["reason"]


async def test_resubmitting_reports_the_real_status(api: Any) -> None:
    http, _ = api
    doc = _fresh("review-required")
    first = await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
    assert first.json()["disposition"] == "started"
    await wait_status(http, doc["decision_id"], "AWAITING_APPROVAL")
    waiting = (await http.post("/api/v1/decisions", json=doc, headers=ADMIN)).json()
    assert (waiting["disposition"], waiting["status"]) == ("existing", "AWAITING_APPROVAL")
    await http.post(f"/api/v1/workflows/{doc['decision_id']}/reject", headers=ADMIN)
    await wait_status(http, doc["decision_id"], "REJECTED")
    finished = (await http.post("/api/v1/decisions", json=doc, headers=ADMIN)).json()
    assert (finished["disposition"], finished["status"]) == ("existing", "REJECTED")


async def _listed_status(http: httpx.AsyncClient, workflow_id: str, expected: str) -> str:
    """The list's status of one workflow, given the engine's visibility a moment to index."""
    seen = ""
    async with asyncio.timeout(15):
        while seen != expected:
            rows = (await http.get("/api/v1/workflows", headers=READ)).json()
            seen = next((r["status"] for r in rows if r["workflow_id"] == workflow_id), "")
            await asyncio.sleep(0.1)
    return seen


async def test_list_and_status_speak_one_vocabulary(api: Any) -> None:
    http, _ = api
    doc = _fresh("review-required")
    await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
    view = await wait_status(http, doc["decision_id"], "AWAITING_APPROVAL")
    assert await _listed_status(http, doc["decision_id"], view["status"]) == "AWAITING_APPROVAL"
    filtered = await http.get("/api/v1/workflows?status=awaiting_approval", headers=READ)
    assert doc["decision_id"] in [r["workflow_id"] for r in filtered.json()]
    await http.post(f"/api/v1/workflows/{doc['decision_id']}/approve", headers=ADMIN)
    await wait_status(http, doc["decision_id"], "COMPLETED")
    assert await _listed_status(http, doc["decision_id"], "COMPLETED") == "COMPLETED"


async def test_approve_and_reject_without_a_body(api: Any) -> None:
    http, _ = api
    approved, rejected = _fresh("review-required"), _fresh("review-required")
    for doc in (approved, rejected):
        await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
        await wait_status(http, doc["decision_id"], "AWAITING_APPROVAL")
    ok = await http.post(f"/api/v1/workflows/{approved['decision_id']}/approve", headers=ADMIN)
    assert ok.status_code == 202, ok.text
    no = await http.post(f"/api/v1/workflows/{rejected['decision_id']}/reject", headers=ADMIN)
    assert no.status_code == 202, no.text
    assert (await wait_status(http, approved["decision_id"], "COMPLETED"))["approval"]["by"]
    assert (await wait_status(http, rejected["decision_id"], "REJECTED"))["status"] == "REJECTED"


async def test_cancel_without_a_body_and_with_a_reason(api: Any) -> None:
    http, rig = api
    plain, reasoned = _fresh("review-required"), _fresh("review-required")
    for doc in (plain, reasoned):
        await http.post("/api/v1/decisions", json=doc, headers=ADMIN)
        await wait_status(http, doc["decision_id"], "AWAITING_APPROVAL")
    ok = await http.post(f"/api/v1/workflows/{plain['decision_id']}/cancel", headers=ADMIN)
    assert ok.status_code == 202, ok.text
    assert ok.json()["status"] == "AWAITING_APPROVAL" and ok.json()["cancel_requested"]
    said = {"by": "alice", "reason": "the customer withdrew the request"}
    wid = reasoned["decision_id"]
    response = await http.post(f"/api/v1/workflows/{wid}/cancel", json=said, headers=ADMIN)
    assert response.status_code == 202, response.text
    views = [await wait_status(http, doc["decision_id"], "CANCELLED") for doc in (plain, reasoned)]
    # The workflow itself keeps who cancelled and why ...
    assert views[0]["reason"] == "cancelled by operator"
    assert views[1]["reason"] == "cancelled by alice: the customer withdrew the request"
    # ... the reason went to the workflow with the cancellation request ...
    history = await rig.client.get_workflow_handle(wid).fetch_history()
    [requested] = [
        e.workflow_execution_cancel_requested_event_attributes
        for e in history.events
        if e.event_type is EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
    ]
    assert requested.cause == said["reason"]
    # ... and the decisions ledger keeps who asked and why.
    record = await rig.store.get(Collection.DECISIONS, wid)
    assert record is not None and record["disposition"] == "started"
    assert record["cancel_requested"]["by"] == "alice"
    assert record["cancel_requested"]["reason"] == said["reason"]


async def test_a_started_decision_the_engine_does_not_know_is_listed_unknown(api: Any) -> None:
    """Not RUNNING by default: the ledger says started, but nothing runs it (ids with a quote
    cannot go into the engine's list filter and are asked one by one)."""
    http, rig = api
    for key in ("ghost-1", "ghost-it's"):
        record = {"decision_id": key, "plan_id": "p", "disposition": "started", "timestamp": 1}
        await rig.store.put(Collection.DECISIONS, key, record)
    rows = (await http.get("/api/v1/workflows?limit=500", headers=READ)).json()
    listed = {r["workflow_id"]: r["status"] for r in rows}
    assert listed["ghost-1"] == listed["ghost-it's"] == "UNKNOWN"

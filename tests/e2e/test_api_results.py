"""Worker results in the upstream worker's shape through ``POST /tickets/{id}/result``, on a real
Temporal dev server (in-process ASGI app; the agents are the stand-in of tests/upstream_worker)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.entrypoints.api.app import create_app
from tests.e2e.test_api_flow import ADMIN, READ, Services, unique, wait_status
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig
from tests.upstream_worker import result_doc, skip_reason

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api(temporal_env: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FlowRig]]:
    rig = FlowRig(temporal_env.client, FAST, lambda t: None)  # results come over HTTP only
    app = create_app(Services(rig), {"admin-token": "admin", "read-token": "read"}, 64 * 1024)
    transport = httpx.ASGITransport(app=app)
    async with rig.worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, rig


async def post(http: httpx.AsyncClient, doc: dict[str, Any]) -> httpx.Response:
    return await http.post(f"/api/v1/tickets/{doc['ticket_id']}/result", json=doc, headers=ADMIN)


async def test_worker_shaped_results_over_http_preempted_and_cancelled_included(
    api: Any,
) -> None:
    http, rig = api
    doc = unique("approve-5-task-dag")
    assert (await http.post("/api/v1/decisions", json=doc, headers=ADMIN)).status_code == 202
    answered = 0
    runs: Counter[str] = Counter()
    async with asyncio.timeout(60):
        while True:
            dispatches = [r.value for r in rig.bus.topic("execution.tickets")]
            for raw in dispatches[answered:]:
                ticket = json.loads(raw)
                answered += 1
                assert skip_reason(ticket) is None, ticket
                runs[ticket["task_id"]] += 1
                first = runs[ticket["task_id"]] == 1
                if ticket["task_id"] == "t1-build" and first:
                    status = "PREEMPTED"
                elif ticket["task_id"] == "t2-unit" and first:
                    status = "CANCELLED"
                else:
                    status = "COMPLETED"
                if ticket["task_id"] == "t3-scan" and first:
                    stray = await post(http, result_doc(ticket, "COMPLETED", agent_id="intruder"))
                    assert stray.status_code == 202, stray.text
                response = await post(http, result_doc(ticket, status))
                assert response.status_code == 202, response.text
            view = (await http.get(f"/api/v1/workflows/{doc['decision_id']}", headers=READ)).json()
            if view.get("status") in ("COMPLETED", "FAILED"):
                break
            await asyncio.sleep(0.05)
    view = await wait_status(http, doc["decision_id"], "COMPLETED")
    by_task = {t["task_id"]: t for t in view["tickets"]}
    assert runs == {"t1-build": 2, "t2-unit": 2, "t3-scan": 1, "t4-canary": 1, "t5-verify": 1}
    assert by_task["t1-build"]["retry_count"] == 0
    assert by_task["t2-unit"]["retry_count"] == 1
    detail = await http.get(f"/api/v1/tickets/{by_task['t4-canary']['ticket_id']}", headers=READ)
    kept = detail.json()["ticket"]["result"]
    assert kept["output"] == {"artifact": "t4-canary.tar", "exit_code": "0"}
    assert kept["logs"] == ["started t4-canary", "finished t4-canary"]
    scan = await rig.store.get(Collection.TICKETS, by_task["t3-scan"]["ticket_id"])
    assert scan is not None
    assert "FOREIGN_RESULT" in [h["event"] for h in scan["history"]]

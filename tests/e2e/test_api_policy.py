"""Policy refusals through the HTTP API (in-process ASGI, real Temporal dev server): a ticket
refused at C3 shows why in GET /api/v1/tickets/{id}; a plan refused at C1 names the rule."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.services.policy import PolicyConfig, PolicyValidator
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.e2e.test_api_flow import ADMIN, READ, Services, unique, wait_status
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api(temporal_env: Any) -> AsyncIterator[httpx.AsyncClient]:
    engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
    # No ticket may use more than 1 CPU: the plan is then refused at C1.
    config = PolicyConfig(max_cpu="1")
    rig = FlowRig(
        temporal_env.client,
        FAST,
        lambda t: True,
        policy=lambda store: PolicyValidator(engine, store, config),
    )
    app = create_app(Services(rig), {"admin-token": "admin", "read-token": "read"}, 64 * 1024)
    transport = httpx.ASGITransport(app=app)
    async with rig.worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http
    await engine.close()  # frees regorus here, not in a collection on some other thread


async def test_plan_refused_at_c1_names_the_rule(api: httpx.AsyncClient) -> None:
    doc = unique("approve-5-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    plan["tasks"][0]["parameters"]["cpu"] = "2"
    doc["cognitive_plan"] = json.dumps(plan)
    response = await api.post("/api/v1/decisions", json=doc, headers=ADMIN)
    assert response.status_code == 202, response.text
    view = await wait_status(api, doc["decision_id"], "REFUSED")
    codes = json.dumps(view)
    assert "policy.resource_limits.cpu_exceeds_limit" in codes


async def test_ticket_view_shows_its_policy_decisions(api: httpx.AsyncClient) -> None:
    doc = unique("low-risk-lowercase-types")
    assert (await api.post("/api/v1/decisions", json=doc, headers=ADMIN)).status_code == 202
    view = await wait_status(api, doc["decision_id"], "COMPLETED")
    ticket_id = view["tickets"][0]["ticket_id"]
    detail = (await api.get(f"/api/v1/tickets/{ticket_id}", headers=READ)).json()
    decisions = detail["policy_decisions"]
    assert {d["policy"].rsplit("/", 1)[-1] for d in decisions} == {
        "resource_limits",
        "sla_enforcement",
        "security_constraints",
        "feature_flags",
    }
    assert all(d["result"] == "allow" and d["engine"] == "embedded" for d in decisions)

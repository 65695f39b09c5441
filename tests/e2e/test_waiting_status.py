"""A step waiting for a dependency says so through the API's workflow view and the CLI's
`status` rendering of it (in-process ASGI app, real Temporal dev server; the bus is the
recording publisher of the flow tests, switched off)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.entrypoints.cli_ops import show_status, status_doc
from tests.e2e.test_api_flow import ADMIN, READ, Services, unique
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig

pytestmark = pytest.mark.e2e


async def test_status_shows_what_a_stalled_step_waits_for(
    temporal_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = FlowRig(temporal_env.client, FAST, lambda t: True)
    rig.bus.down = True
    app = create_app(Services(rig), {"admin-token": "admin", "read-token": "read"}, 64 * 1024)
    transport = httpx.ASGITransport(app=app)
    async with rig.worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        doc = unique("approve-5-task-dag")
        assert (await http.post("/api/v1/decisions", json=doc, headers=ADMIN)).status_code == 202
        async with asyncio.timeout(30):
            while True:
                response = await http.get(f"/api/v1/workflows/{doc['decision_id']}", headers=READ)
                body: dict[str, Any] = response.json()
                if response.status_code == 200 and body.get("waiting"):
                    break
                await asyncio.sleep(0.1)
        assert body["status"] == "RUNNING" and body["step"] == "C4_DISPATCH"
        assert body["waiting"]["dependency"] == "bus"
        assert body["waiting"]["message"].startswith("waiting for bus since ")
        assert status_doc(body)["waiting"] == body["waiting"]
        show_status(body)
        out = capsys.readouterr().out.replace("\n", " ")
        assert "waiting for bus since" in out
        rig.bus.down = False
        async with asyncio.timeout(60):
            while body["status"] != "COMPLETED":
                await asyncio.sleep(0.1)
                body = (
                    await http.get(f"/api/v1/workflows/{doc['decision_id']}", headers=READ)
                ).json()
    assert body["waiting"] is None

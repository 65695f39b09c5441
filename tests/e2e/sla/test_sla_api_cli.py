"""`GET /api/v1/sla/budgets` and `orchestrator-dynamic sla` over a real HTTP server (uvicorn)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.entrypoints.cli import app as cli
from orchestrator_dynamic.services.sla_monitor import SlaMonitor, SlaMonitorConfig
from tests.e2e.service import free_port
from tests.fakes import MemoryStoreFake, RecordingPublisher
from tests.unit.sla.factory import T0, result, stored, ticket

pytestmark = pytest.mark.e2e

NOW = T0 + 90_000  # the running ticket has used 90 % of its window
TOKENS = {"read-token": "read"}
READ = {"Authorization": "Bearer read-token"}


def services() -> tuple[SimpleNamespace, RecordingPublisher]:
    """Like bootstrap.Runtime: the monitor is ``services.sla_monitor``."""
    store, pub = MemoryStoreFake(), RecordingPublisher()
    running = ticket("hot", started_at=T0 + 1_000, workflow_id="wf-hot")
    calm = ticket("calm", "COMPLETED", completed_at=T0 + 5_000, workflow_id="wf-calm")
    for t, wf in ((running, "wf-hot"), (calm, "wf-calm")):
        store.data[Collection.TICKETS][t.ticket_id] = stored(t, wf, NOW - 1_000)
    for i in range(199):
        store.data[Collection.WORKFLOW_RESULTS][f"ok-{i}"] = result(f"ok-{i}", "COMPLETED", NOW)
    store.data[Collection.WORKFLOW_RESULTS]["bad"] = result("bad", "FAILED", NOW)
    config = SlaMonitorConfig(service_name="orch")
    monitor = SlaMonitor(store, pub, MemoryCache(), lambda: NOW, config)
    return SimpleNamespace(sla_monitor=monitor), pub


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, RecordingPublisher]]:
    runtime, pub = services()
    transport = httpx.ASGITransport(app=create_app(runtime, TOKENS))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, pub


async def test_budgets_burn_rates_and_at_risk_workflows(
    api: tuple[httpx.AsyncClient, RecordingPublisher],
) -> None:
    http, pub = api
    response = await http.get("/api/v1/sla/budgets", headers=READ)
    assert response.status_code == 200, response.text
    body = response.json()
    [budget] = body["budgets"]
    # 200 workflows at 99 % allow 2 failures; 1 failed: half the budget is left.
    assert budget["budget_remaining_percent"] == pytest.approx(50.0)
    assert (budget["status"], budget["total_events"], budget["bad_events"]) == ("HEALTHY", 200, 1)
    assert budget["burn_rates"] == {"1": 0.5, "6": 0.5, "24": 0.5}  # 1/200 / 0.01
    [risky] = body["at_risk_workflows"]
    assert risky["workflow_id"] == "wf-hot"
    assert (risky["status"], risky["critical_tickets"]) == ("APPROACHING", ["hot"])
    assert risky["nearest_remaining_ms"] == 10_000
    assert pub.records == []  # looking sends nothing


async def test_needs_a_token_and_a_running_monitor() -> None:
    transport = httpx.ASGITransport(app=create_app(SimpleNamespace(), TOKENS))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        assert (await http.get("/api/v1/sla/budgets")).status_code == 401
        missing = await http.get("/api/v1/sla/budgets", headers=READ)
    assert missing.status_code == 503
    assert missing.json()["title"] == "SLA monitoring is not running"


@pytest.fixture
def api_url() -> Iterator[str]:
    runtime, _ = services()
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime, TOKENS), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["sla", *args], catch_exceptions=False)


def test_cli_json_and_table(api_url: str) -> None:
    done = invoke("--api-url", api_url, "--token", "read-token", "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["budgets"][0]["status"] == "HEALTHY"
    assert [w["workflow_id"] for w in doc["at_risk_workflows"]] == ["wf-hot"]

    table = invoke("--api-url", api_url, "--token", "read-token")
    assert table.exit_code == 0, table.output
    for text in ("Error budgets", "50.0%", "HEALTHY", "1h 0.50x", "wf-hot", "90%", "in 10s"):
        assert text in table.stdout


def test_cli_without_token_exits_1(api_url: str) -> None:
    done = invoke("--api-url", api_url)
    assert done.exit_code == 1

"""The history routes over a real SQLite store (in-process ASGI), and the `store` CLI commands."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.store.spool import SPOOL_FILE, Spool
from orchestrator_dynamic.adapters.store.sqlite import SqliteStore
from orchestrator_dynamic.domain.ports import Collection, Store
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.entrypoints.cli import app as cli
from orchestrator_dynamic.services.retention import DAY_MS
from orchestrator_dynamic.settings import Settings

pytestmark = pytest.mark.integration

READ = {"Authorization": "Bearer read-token"}
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class Services:
    def __init__(self, store: Store) -> None:
        self.store = store


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, SqliteStore]]:
    store = SqliteStore(tmp_path / "store.db")
    await store.start()
    app = create_app(Services(store), {"read-token": "read"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, store
    await store.stop()


async def seed(store: Store) -> None:
    for i, (status, compliant) in enumerate([("COMPLETED", True), ("FAILED", False)]):
        doc = {"workflow_id": f"w{i}", "status": status, "timestamp": T0 + i * DAY_MS}
        doc["sla_status"] = {"compliant": compliant, "violations_count": 0 if compliant else 2}
        await store.put(Collection.WORKFLOW_RESULTS, f"w{i}", doc)
    # Spelled as domain/consolidation.py writes it.
    await store.put(Collection.INCIDENTS, "i1", {"severity": "high", "timestamp": T0})
    await store.put(Collection.VALIDATION_AUDIT, "w0:c1", {"plan_id": "p1", "timestamp": T0})
    for i, kind in enumerate(["BUILD", "TEST", "BUILD"]):
        ticket = {"ticket_id": f"t{i}", "task_type": kind, "status": "COMPLETED"}
        await store.put(Collection.TICKETS, f"t{i}", {**ticket, "timestamp": T0 + i * DAY_MS})


async def get(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await http.get(f"/api/v1/history{path}", params=params, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


async def test_history_routes_answer_from_the_store(
    api: tuple[httpx.AsyncClient, SqliteStore],
) -> None:
    http, store = api
    await seed(store)
    assert [w["workflow_id"] for w in await get(http, "/workflows")] == ["w1", "w0"]
    assert [w["workflow_id"] for w in await get(http, "/workflows", status="COMPLETED")] == ["w0"]
    window = await get(http, "/workflows", since="2026-01-01T12:00:00Z", until="2026-01-03T00:00Z")
    assert [w["workflow_id"] for w in window] == ["w1"]
    assert [w["workflow_id"] for w in await get(http, "/sla-violations")] == ["w1"]
    assert len(await get(http, "/incidents", severity="high")) == 1
    assert await get(http, "/incidents", severity="low") == []
    assert [v["plan_id"] for v in await get(http, "/validations/p1")] == ["p1"]
    builds = await get(http, "/tickets", task_type="BUILD", limit=1)
    assert [t["ticket_id"] for t in builds] == ["t2"]


async def test_history_refuses_bad_parameters_and_anonymous_callers(
    api: tuple[httpx.AsyncClient, SqliteStore],
) -> None:
    http, _ = api
    bad = await http.get("/api/v1/history/incidents?severity=a%20b", headers=READ)
    assert bad.status_code in (400, 422) and "severity" in bad.text
    late = await http.get("/api/v1/history/workflows?since=yesterday", headers=READ)
    assert late.status_code in (400, 422) and "since" in late.text
    assert (await http.get("/api/v1/history/workflows")).status_code == 401


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()  # the CLI sends logs to stderr; later tests expect the default


@pytest.mark.usefixtures("restore_logging")
def test_store_cli_purges_by_retention_and_reports_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "store.db"
    monkeypatch.setenv("STORE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))

    async def fill() -> None:
        store = SqliteStore(db)
        await store.start()
        await store.put(Collection.TELEMETRY_BUFFER, "old", {"timestamp": 1})
        await store.put(Collection.TELEMETRY_BUFFER, "new", {"timestamp": 2**52})
        await store.stop()
        spool = Spool(tmp_path / "data" / SPOOL_FILE)
        await spool.start()
        await spool.add(Collection.INCIDENTS, "spooled", {"timestamp": 3}, 3, "store was down")
        await spool.stop()

    async def landed() -> dict[str, Any] | None:
        store = SqliteStore(db)
        await store.start()
        found = await store.get(Collection.INCIDENTS, "spooled")
        await store.stop()
        return found

    asyncio.run(fill())
    runner = CliRunner()
    nothing = runner.invoke(cli, ["store", "purge"])
    assert nothing.exit_code == 0 and "nothing to do" in nothing.output
    done = runner.invoke(cli, ["store", "purge", "--days", '{"telemetry_buffer": 1}', "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"telemetry_buffer": 1}
    refused = runner.invoke(cli, ["store", "purge", "--days", '{"nope": 1}'])
    assert refused.exit_code == 2 and "unknown collection" in refused.output
    waiting = runner.invoke(cli, ["store", "spool", "--json"])
    assert json.loads(waiting.stdout) == {"depth": 1, "replayed": 0, "refused": 0}
    spool = runner.invoke(cli, ["store", "spool", "--drain", "--json"])
    assert spool.exit_code == 0, spool.output
    assert json.loads(spool.stdout) == {"depth": 0, "replayed": 1, "refused": 0}
    assert asyncio.run(landed()) == {"timestamp": 3}


@pytest.fixture
def live_api() -> Iterator[str]:
    """The history routes served over real HTTP (uvicorn in a thread) for the CLI to call."""
    import asyncio
    import threading
    import time

    import uvicorn

    from tests.servers.postgres import free_port

    store = MemoryStore()
    asyncio.run(seed(store))
    port = free_port()
    app = create_app(Services(store), {"read-token": "read"})
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["workflows", "--status", "FAILED"], ["w1"]),
        (["sla-violations"], ["w1"]),
        (["incidents", "--severity", "HIGH"], ["high"]),  # any case from the CLI
        (["validations", "p1"], ["p1"]),
        (["tickets", "--task-type", "BUILD", "--since", "2026-01-02T00:00:00Z"], ["t2"]),
    ],
)
def test_history_cli_commands_query_the_api(
    live_api: str, args: list[str], expected: list[str]
) -> None:
    runner = CliRunner()
    done = runner.invoke(
        cli, ["history", *args, "--json", "--api-url", live_api, "--token", "read-token"]
    )
    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)
    names = ("workflow_id", "ticket_id", "severity", "plan_id")
    assert [next(r[n] for n in names if n in r) for r in rows] == expected
    table = runner.invoke(cli, ["history", *args, "--api-url", live_api, "--token", "read-token"])
    assert table.exit_code == 0 and f"({len(expected)})" in table.stdout

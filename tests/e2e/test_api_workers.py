"""The built-in registry over HTTP (in-process ASGI app, real BuiltinRegistry with a test clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.entrypoints.api.app import create_app

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer admin-token"}
READ = {"Authorization": "Bearer read-token"}


class Services:
    def __init__(self, registry: BuiltinRegistry) -> None:
        self.registry = registry


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    clock = Clock()
    registry = BuiltinRegistry(degraded_after_s=30, unhealthy_after_s=90, clock=clock)
    app = create_app(Services(registry), {"admin-token": "admin", "read-token": "read"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, clock


def registration(worker_id: str, *caps: str, **extra: object) -> dict[str, object]:
    return {"worker_id": worker_id, "capabilities": list(caps), **extra}


async def test_register_list_and_heartbeat(api: tuple[httpx.AsyncClient, Clock]) -> None:
    http, _ = api
    body = registration(
        "gpu-1", "python", "gpu", namespace="ml", security_level="RESTRICTED",
        max_concurrent_tasks=4, telemetry={"success_rate": 0.9, "experience": 0.5},
    )  # fmt: skip
    created = await http.post("/api/v1/workers", json=body, headers=ADMIN)
    assert created.status_code == 201
    assert created.json()["telemetry"] == {
        "success_rate": 0.9, "duration_score": 0.5, "experience": 0.5
    }  # fmt: skip
    await http.post("/api/v1/workers", json=registration("cpu-1", "python"), headers=ADMIN)
    listed = (await http.get("/api/v1/workers", headers=READ)).json()
    assert [(w["worker_id"], w["health"]) for w in listed] == [
        ("cpu-1", "HEALTHY"),
        ("gpu-1", "HEALTHY"),
    ]
    gpu = await http.get("/api/v1/workers", params={"capability": ["gpu", "python"]}, headers=READ)
    assert [w["worker_id"] for w in gpu.json()] == ["gpu-1"]
    assert gpu.json()[0]["namespace"] == "ml" and gpu.json()[0]["max_concurrent_tasks"] == 4
    ns = await http.get("/api/v1/workers", params={"namespace": "default"}, headers=READ)
    assert [w["worker_id"] for w in ns.json()] == ["cpu-1"]
    beat = await http.post(
        "/api/v1/workers/gpu-1/heartbeat", json={"active_tasks": 3}, headers=ADMIN
    )
    assert beat.status_code == 202
    page = await http.get("/api/v1/workers", params={"limit": 1, "offset": 1}, headers=READ)
    assert [(w["worker_id"], w["active_tasks"]) for w in page.json()] == [("gpu-1", 3)]


async def test_missed_heartbeats_degrade_then_make_unhealthy(
    api: tuple[httpx.AsyncClient, Clock],
) -> None:
    http, clock = api
    await http.post("/api/v1/workers", json=registration("w", "python"), headers=ADMIN)

    async def health() -> str:
        listed = (await http.get("/api/v1/workers", headers=READ)).json()
        return str(listed[0]["health"])

    clock.ms += 29_999
    assert await health() == "HEALTHY"
    clock.ms += 1
    assert await health() == "DEGRADED"
    clock.ms += 60_000
    assert await health() == "UNHEALTHY"
    await http.post("/api/v1/workers/w/heartbeat", json={}, headers=ADMIN)
    assert await health() == "HEALTHY"


async def test_scopes_and_unknown_workers(api: tuple[httpx.AsyncClient, Clock]) -> None:
    http, _ = api
    denied = await http.post("/api/v1/workers", json=registration("w", "x"), headers=READ)
    assert denied.status_code == 403
    assert (await http.get("/api/v1/workers")).status_code == 401
    missing = await http.post("/api/v1/workers/nobody/heartbeat", json={}, headers=ADMIN)
    assert missing.status_code == 404
    assert "nobody" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (registration("w"), "capabilities"),
        (registration("bad id!", "x"), "worker_id"),
        (registration("w", "x", max_concurrent_tasks=0), "max_concurrent_tasks"),
        (registration("w", "x", security_level="SECRET"), "security_level"),
        (registration("w", "x", telemetry={"success_rate": 2}), "telemetry.success_rate"),
        (registration("w", "x", colour="red"), "colour"),
    ],
)
async def test_bad_registrations_name_the_field(
    api: tuple[httpx.AsyncClient, Clock], body: dict[str, object], field: str
) -> None:
    http, _ = api
    response = await http.post("/api/v1/workers", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]

"""An API app over real services (Operations, MemoryStore, BuiltinRegistry) and a recording engine.

The engine stands in for Temporal: it knows which workflows are running, records every result
signalled to it and answers approve/reject/cancel like the gateway does (Conflict when the
workflow is not in the right state).
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.domain.errors import Conflict, NotFound
from orchestrator_dynamic.domain.model import ExecutionResult
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.domain.workflows import WorkflowStatus, WorkflowView
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.entrypoints.api.ratelimit import RateLimits
from orchestrator_dynamic.services.operations import Operations


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Plain and digest entries side by side: the old format keeps working.
TOKENS = {
    "admin-plain": "admin",
    f"sha256:{sha('read-hidden')}": "read",
    f"sha256:{sha('admin-hidden')}": "admin",
    f"sha256:{sha('w1-secret')}": "worker:w1",
    "w2-plain": "worker:w2",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class RecordingEngine:
    def __init__(self) -> None:
        self.running: dict[str, WorkflowStatus] = {}
        self.delivered: list[ExecutionResult] = []
        self.signals: list[tuple[str, str]] = []

    async def deliver(self, result: ExecutionResult) -> bool:
        self.delivered.append(result)
        return any(result.ticket_id.startswith(f"{w}:") for w in self.running)

    async def view(self, workflow_id: str) -> WorkflowView:
        if workflow_id not in self.running:
            raise NotFound(f"no workflow {workflow_id}")
        return WorkflowView(workflow_id, self.running[workflow_id], "C4", workflow_id, "p")

    async def decide(self, workflow_id: str, approved: bool, by: str, reason: str) -> WorkflowView:
        view = await self.view(workflow_id)
        if view.status is not WorkflowStatus.AWAITING_APPROVAL:
            raise Conflict(f"workflow {workflow_id} is {view.status.value}, not awaiting approval")
        self.signals.append(("approve" if approved else "reject", workflow_id))
        return view

    async def cancel(self, workflow_id: str, reason: str = "", by: str = "") -> WorkflowView:
        view = await self.view(workflow_id)
        self.signals.append(("cancel", workflow_id))
        return view


class Services:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.engine = RecordingEngine()
        self.operations = Operations(self.engine, self.store, lambda: 1_700_000_000_000)  # type: ignore[arg-type]
        self.registry = BuiltinRegistry(degraded_after_s=30, unhealthy_after_s=90)

    async def ticket(self, ticket_id: str, worker_id: str, status: str = "RUNNING") -> None:
        workflow_id = ticket_id.split(":", 1)[0]
        doc = {
            "ticket_id": ticket_id,
            "workflow_id": workflow_id,
            "worker_id": worker_id,
            "status": status,
            "timestamp": 1,
        }
        await self.store.put(Collection.TICKETS, ticket_id, doc)


def client(services: Services, limits: RateLimits | None = None) -> httpx.AsyncClient:
    app = create_app(services, TOKENS, rate_limits=limits)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


def result(ticket_id: str, agent_id: str, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "status": status,
        "result": {"success": status == "COMPLETED", "output": {}, "metadata": {}, "logs": []},
        "agent_id": agent_id,
        "timestamp": 1_700_000_000_000,
    }

"""A Flow C rig on a real Temporal dev server, with in-memory ports and simulated agents."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    ResultStatus,
    TicketStatus,
)
from orchestrator_dynamic.domain.ports import Scheduler, Store
from orchestrator_dynamic.domain.workflows import Submission
from orchestrator_dynamic.flow.activities import FlowActivities
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import FlowOptions, WorkflowStatus, WorkflowView
from orchestrator_dynamic.flow.steps import FlowDeps, FlowSteps
from orchestrator_dynamic.flow.worker import build_worker
from orchestrator_dynamic.services.operations import Operations
from tests.fakes import CapabilityScheduler, MemoryStoreFake, RecordingPublisher, settle

WORKERS = {
    "agent-build": {"code_generation"},
    "agent-test": {"testing", "validation"},
    "agent-deploy": {"deployment", "validation", "testing"},
}

Behaviour = Callable[[ExecutionTicket], bool | None]
"""Given a dispatched ticket: True = succeed, False = fail, None = never answer."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class AgentLog:
    started: dict[str, list[int]] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)
    seen: list[ExecutionTicket] = field(default_factory=list)


class FlowRig:
    def __init__(
        self,
        client: Client,
        options: FlowOptions,
        behaviour: Behaviour,
        scheduler: Scheduler | None = None,
        policy: Callable[[Store], Any] | None = None,
        store: Any = None,
        bus: RecordingPublisher | None = None,
        unexpected_max_attempts: int = 5,
        ml: Any = None,
    ) -> None:
        self.client = client
        self.task_queue = f"flow-test-{uuid.uuid4().hex[:8]}"
        self.store = store if store is not None else MemoryStoreFake()
        self.bus = bus if bus is not None else RecordingPublisher()
        self.scheduler: Scheduler = scheduler or CapabilityScheduler(
            workers={k: set(v) for k, v in WORKERS.items()}
        )
        validator = policy(self.store) if policy else None  # built over this rig's store
        deps = FlowDeps(self.bus, self.store, self.scheduler, now_ms, policy=validator, ml=ml)
        steps = FlowSteps(deps)
        activities = FlowActivities(steps, unexpected_max_attempts=unexpected_max_attempts)
        self.worker: Worker = build_worker(client, self.task_queue, activities)
        self.gateway = FlowGateway(
            client, self.task_queue, self.store, lambda: options, now_ms, self.scheduler
        )
        self.behaviour = behaviour
        self.log = AgentLog()
        self.agent_delay_s = 0.01
        self.failure_text = "simulated failure"  # error_message of a failed attempt
        self._tasks: set[asyncio.Task[None]] = set()
        self.bus.on("execution.tickets", self._agent)

    async def _agent(self, record: Any) -> None:
        ticket = ExecutionTicket.model_validate_json(record.value)
        self.log.seen.append(ticket)
        if ticket.status is not TicketStatus.PENDING:
            return
        self.log.started.setdefault(ticket.ticket_id, []).append(now_ms())
        outcome = self.behaviour(ticket)
        if outcome is None:
            return
        task = asyncio.create_task(self._answer(ticket, outcome))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, ticket: ExecutionTicket, ok: bool) -> None:
        await asyncio.sleep(self.agent_delay_s)
        if ok:
            self.log.finished[ticket.ticket_id] = now_ms()
        result = ExecutionResult(
            ticket_id=ticket.ticket_id,
            status=ResultStatus.COMPLETED if ok else ResultStatus.FAILED,
            # As the demo and upstream agents do: the result names its workflow, which routes
            # it even where the ticket's record cannot be read.
            result=ExecutionResultPayload(
                success=ok, output={"by": "agent"}, metadata={"workflow_id": ticket.workflow_id}
            ),
            error_message=None if ok else self.failure_text,
            actual_duration_ms=5,
            agent_id=ticket.metadata.get("worker_id", "agent"),
            timestamp=now_ms(),
        )
        await self.gateway.deliver(result)

    @property
    def operations(self) -> Operations:
        """Submissions go through the service, which keeps the decisions ledger (over whatever
        gateway the test gave the rig)."""
        return Operations(self.gateway, self.store, now_ms)

    async def submit(self, doc: dict[str, Any] | bytes, unique: bool = True) -> Submission:
        """Submit a decision; by default under a fresh decision_id, because the dev server
        outlives each test and a finished workflow id is never reused."""
        body = dict(doc) if isinstance(doc, dict) else json.loads(doc)
        if unique and "decision_id" in body:
            body["decision_id"] = f"{body['decision_id']}-{uuid.uuid4().hex[:8]}"
        return await self.operations.start(parse_decision(body))

    async def finished_view(self, workflow_id: str, timeout_s: float = 60) -> WorkflowView:
        handle = self.client.get_workflow_handle(workflow_id)
        async with asyncio.timeout(timeout_s):
            with contextlib.suppress(Exception):
                await handle.result()
        return await self.gateway.view(workflow_id)

    async def wait_status(self, workflow_id: str, status: WorkflowStatus) -> WorkflowView:
        views: list[WorkflowView] = []

        async def probe() -> None:
            views.append(await self.gateway.view(workflow_id))

        async with asyncio.timeout(30):
            while True:
                try:
                    await probe()
                except Exception:
                    views.clear()
                if views and views[-1].status is status:
                    return views[-1]
                await asyncio.sleep(0.05)

    def tickets_published(self) -> list[ExecutionTicket]:
        return [
            ExecutionTicket.model_validate_json(r.value)
            for r in self.bus.topic("execution.tickets")
        ]


__all__ = ["FlowRig", "settle"]

"""Client-side operations on Flow C workflows: start, signal, query, cancel.

This is what the intake consumers, the HTTP API and the CLI (through the API) use. Starting is
idempotent: workflow id = decision_id, and a second start of the same decision returns the
workflow that exists (running or finished) instead of creating another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from orchestrator_dynamic.domain.errors import Conflict, EngineUnavailable, NotFound
from orchestrator_dynamic.domain.model import (
    CognitivePlan,
    ConsolidatedDecision,
    ExecutionResult,
    FinalDecision,
)
from orchestrator_dynamic.domain.ports import Collection, Scheduler, Store
from orchestrator_dynamic.flow.payloads import (
    WORKFLOW_NAME,
    ApprovalSignal,
    FlowInput,
    FlowOptions,
    ResultSignal,
    WorkflowStatus,
    WorkflowView,
)
from orchestrator_dynamic.flow.workflow import FlowCWorkflow
from orchestrator_dynamic.observability import metrics
from orchestrator_dynamic.services.decision_ledger import DECISION_FIELDS, record_decision

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Submission:
    workflow_id: str
    disposition: str  # started | existing | skipped
    status: str


class FlowGateway:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        store: Store,
        options: Callable[[], FlowOptions],
        clock: Callable[[], int],
        scheduler: Scheduler | None = None,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._store = store
        self._options = options
        self._clock = clock
        self._scheduler = scheduler

    # ------------------------------------------------------------ decisions

    async def submit(
        self, decision: ConsolidatedDecision, plan: CognitivePlan | None = None
    ) -> Submission:
        """Gate the decision and start (or find) its workflow; rejections are only recorded."""
        if decision.final_decision is FinalDecision.REJECT:
            await self._record(decision, "skipped", "final_decision is reject")
            return Submission(decision.decision_id, "skipped", "SKIPPED")
        # Recorded before the start: C1 may refuse the plan (and say so in this record) before
        # the start call even returns. A redelivery never overwrites what became of the first.
        known = await self._store.get(Collection.DECISIONS, decision.decision_id)
        if known is None or known.get("disposition") == "dead-lettered":
            await self._record(decision, "started", "")
        disposition = await self._start(decision)
        metrics.WORKFLOWS_STARTED.labels(disposition).inc()
        return Submission(decision.decision_id, disposition, "RUNNING")

    async def _start(self, decision: ConsolidatedDecision) -> str:
        doc = decision.model_dump(mode="json")
        try:
            await self._client.start_workflow(
                WORKFLOW_NAME,
                FlowInput(doc, self._options()),
                id=decision.decision_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return "existing"  # finished before: never run the same decision twice
        except RPCError as exc:
            raise EngineUnavailable("temporal", str(exc)) from exc
        return "started"

    async def _record(self, decision: ConsolidatedDecision, disposition: str, reason: str) -> None:
        fields = decision.model_dump(mode="json", include=set(DECISION_FIELDS))
        await record_decision(self._store, fields, disposition, reason, self._clock())

    # ------------------------------------------------------------ results

    async def deliver(self, result: ExecutionResult) -> bool:
        """Route a worker's result to the workflow that owns the ticket; False if unknown."""
        ticket = await self._store.get(Collection.TICKETS, result.ticket_id)
        workflow_id = (ticket or {}).get("workflow_id") or result.result.metadata.get("workflow_id")
        if not workflow_id:
            return False
        try:
            await self._handle(workflow_id).signal(
                FlowCWorkflow.ticket_result, ResultSignal(result)
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise EngineUnavailable("temporal", str(exc)) from exc
        worker_id = (ticket or {}).get("worker_id")
        # Only the allocated worker's answer frees its slot: a stray result from another agent
        # is recorded by the workflow and changes nothing, capacity included.
        ours = result.agent_id == worker_id
        if self._scheduler and worker_id and ours and result.status.value != "RUNNING":
            await self._scheduler.release(result.ticket_id, worker_id)
        return True

    # ------------------------------------------------------------ operator actions

    async def decide(self, workflow_id: str, approved: bool, by: str, reason: str) -> WorkflowView:
        view = await self.view(workflow_id)
        if view.status is not WorkflowStatus.AWAITING_APPROVAL:
            raise Conflict(f"workflow {workflow_id} is {view.status.value}, not awaiting approval")
        signal = ApprovalSignal(approved, by, reason, self._clock())
        await self._handle(workflow_id).signal(FlowCWorkflow.approval, signal)
        return view

    async def cancel(self, workflow_id: str) -> None:
        view = await self.view(workflow_id)
        if view.status.terminal:
            raise Conflict(f"workflow {workflow_id} already ended {view.status.value}")
        await self._handle(workflow_id).cancel()

    async def view(self, workflow_id: str) -> WorkflowView:
        handle = self._handle(workflow_id)
        try:
            return await handle.query(FlowCWorkflow.view)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no workflow {workflow_id}") from exc
            raise EngineUnavailable("temporal", str(exc)) from exc

    async def execution_status(self, workflow_id: str) -> WorkflowExecutionStatus | None:
        try:
            desc = await self._handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no workflow {workflow_id}") from exc
            raise EngineUnavailable("temporal", str(exc)) from exc
        return desc.status

    def _handle(self, workflow_id: str) -> WorkflowHandle[Any, Any]:
        return self._client.get_workflow_handle(workflow_id)

    async def count_running(self) -> int:
        """Flow C workflows of this deployment (its task queue) running now, across every
        replica (the engine's visibility)."""
        query = (
            f'WorkflowType="{WORKFLOW_NAME}" AND TaskQueue="{self._task_queue}" '
            'AND ExecutionStatus="Running"'
        )
        try:
            return (await self._client.count_workflows(query)).count
        except RPCError as exc:
            raise EngineUnavailable("temporal", str(exc)) from exc

    async def ping(self) -> None:
        try:
            await self._client.service_client.check_health()
        except RPCError as exc:
            raise EngineUnavailable("temporal", str(exc)) from exc

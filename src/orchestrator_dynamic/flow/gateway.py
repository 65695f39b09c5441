"""Client-side operations on Flow C workflows: start, signal, query, cancel.

This is what the intake consumers, the HTTP API and the CLI (through the API) use. Starting is
idempotent: workflow id = decision_id, and a second start of the same decision returns the
workflow that exists (running or finished) instead of creating another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from orchestrator_dynamic.domain.errors import (
    Conflict,
    EngineUnavailable,
    Issue,
    NotFound,
    TooLarge,
)
from orchestrator_dynamic.domain.model import (
    CognitivePlan,
    ConsolidatedDecision,
    ExecutionResult,
    FinalDecision,
)
from orchestrator_dynamic.domain.ports import Collection, Scheduler, Store
from orchestrator_dynamic.flow import search_attributes
from orchestrator_dynamic.flow.payloads import (
    WORKFLOW_NAME,
    ApprovalSignal,
    CancelSignal,
    FlowInput,
    FlowOptions,
    ResultSignal,
    WorkflowStatus,
    WorkflowView,
)
from orchestrator_dynamic.flow.workflow import STATUS_MEMO, FlowCWorkflow
from orchestrator_dynamic.observability import metrics
from orchestrator_dynamic.services.decision_ledger import DECISION_FIELDS, record_decision

log = structlog.get_logger(__name__)

# What the engine's status of a workflow without our status memo (or without our stored result)
# means in our vocabulary. A running one without a memo predates the memo: it is asked directly.
_CLOSED_AS: dict[WorkflowExecutionStatus, WorkflowStatus] = {
    WorkflowExecutionStatus.COMPLETED: WorkflowStatus.COMPLETED,
    WorkflowExecutionStatus.FAILED: WorkflowStatus.FAILED,
    WorkflowExecutionStatus.CANCELED: WorkflowStatus.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: WorkflowStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: WorkflowStatus.FAILED,
}
# Ids per visibility list call: keeps the filter well under the engine's query length limit.
LIST_BATCH = 200
# The engine's answer to a start whose input is over its blob size limit.
_SIZE_REFUSAL = "size exceeds limit"


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
        searchable: bool = True,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._store = store
        self._options = options
        self._clock = clock
        self._scheduler = scheduler
        # Whether starts carry the search attributes: off when startup found them unregistered
        # and could not add them, or once the engine refused a start for them.
        self._searchable = searchable

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
        disposition = await self._start(decision, plan)
        metrics.WORKFLOWS_STARTED.labels(disposition).inc()
        if disposition == "started":
            return Submission(decision.decision_id, disposition, WorkflowStatus.VALIDATING.value)
        status = await self.status_of(decision.decision_id)
        return Submission(decision.decision_id, disposition, status)

    async def _start(self, decision: ConsolidatedDecision, plan: CognitivePlan | None) -> str:
        doc = decision.model_dump(mode="json")
        attributes = search_attributes.for_decision(decision, plan) if self._searchable else None
        try:
            await self._client.start_workflow(
                WORKFLOW_NAME,
                FlowInput(doc, self._options()),
                id=decision.decision_id,
                task_queue=self._task_queue,
                # Running or finished, a workflow with this id means the decision was seen:
                # the start fails and the submission reports the existing one.
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={STATUS_MEMO: WorkflowStatus.VALIDATING.value},
                search_attributes=attributes,
            )
        except WorkflowAlreadyStartedError:
            return "existing"  # never run the same decision twice
        except RPCError as exc:
            if attributes is not None and search_attributes.is_unregistered(exc):
                # A cluster without our attributes still runs every decision: said once.
                if self._searchable:
                    self._searchable = False
                    log.warning("search_attributes_unregistered", reason=exc.message)
                return await self._start(decision, plan)
            if exc.status is RPCStatusCode.INVALID_ARGUMENT and _SIZE_REFUSAL in str(exc).lower():
                await self._refuse_size(decision, str(exc))
            raise EngineUnavailable("temporal", str(exc)) from exc
        return "started"

    async def _refuse_size(self, decision: ConsolidatedDecision, engine_says: str) -> None:
        """The engine will never take this decision: a permanent refusal, kept in the ledger."""
        reason = f"the workflow engine refused the decision as too large ({engine_says})"
        await self._record(decision, "refused", reason)
        log.warning("decision_too_large", decision_id=decision.decision_id, reason=engine_says)
        raise TooLarge([Issue("decision.too_large", reason)])

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

    async def cancel(
        self, workflow_id: str, reason: str = "", by: str = "operator"
    ) -> WorkflowView:
        """Request cancellation. Who and why go first as a signal, so the workflow has them on
        record when the cancellation reaches it; the request carries the reason too, for the
        engine's own history."""
        view = await self.view(workflow_id)
        if view.status.terminal:
            raise Conflict(f"workflow {workflow_id} already ended {view.status.value}")
        handle = self._handle(workflow_id)
        try:
            signal = CancelSignal(reason, by, self._clock())
            await handle.signal(FlowCWorkflow.cancel_reason, signal)
            await handle.cancel(reason=reason)
        except RPCError as exc:
            raise EngineUnavailable("temporal", str(exc)) from exc
        return view

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

    async def status_of(self, workflow_id: str) -> str:
        """A workflow's status in the vocabulary of ``view`` (the status memo the workflow keeps
        current, or its stored result); NotFound when the engine has no such workflow."""
        stored = await self._store.get(Collection.WORKFLOW_RESULTS, workflow_id)
        if stored is not None:
            return str(stored["status"])
        try:
            desc = await self._handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no workflow {workflow_id}") from exc
            raise EngineUnavailable("temporal", str(exc)) from exc
        return await self._status_from(desc)

    async def statuses(self, workflow_ids: list[str]) -> dict[str, str]:
        """Statuses of many workflows from one visibility list (memo included), so a page of
        500 costs one call instead of 500 queries that each wake a worker and may replay a
        whole history. Ids the visibility store has not indexed yet are described one by one."""
        out: dict[str, str] = {}
        # An id with a quote or a backslash cannot be written safely into the filter: described.
        listable = [w for w in workflow_ids if "'" not in w and "\\" not in w]
        for start in range(0, len(listable), LIST_BATCH):
            quoted = ", ".join(f"'{w}'" for w in listable[start : start + LIST_BATCH])
            try:
                async for execution in self._client.list_workflows(f"WorkflowId IN ({quoted})"):
                    out[execution.id] = await self._status_from(execution)
            except RPCError as exc:
                raise EngineUnavailable("temporal", str(exc)) from exc
        for workflow_id in workflow_ids:
            if workflow_id not in out:
                with contextlib.suppress(NotFound):
                    out[workflow_id] = await self.status_of(workflow_id)
        return out

    async def _status_from(self, execution: WorkflowExecution) -> str:
        memo = await execution.memo()
        if isinstance(memo.get(STATUS_MEMO), str):
            return str(memo[STATUS_MEMO])
        if execution.status is WorkflowExecutionStatus.RUNNING or execution.status is None:
            return (await self.view(execution.id)).status.value
        return _CLOSED_AS[execution.status].value

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

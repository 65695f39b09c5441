"""The workflow-engine port (``domain.ports.WorkflowEngine``) on Temporal: start, signal, query,
cancel Flow C workflows, with the SDK's errors translated into the domain's.

Starting is idempotent: workflow id = decision_id, and a second start of the same decision finds
the workflow that exists (running or finished) instead of creating another. The decisions ledger
is kept by the caller (``services.operations``), not here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
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
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision, ExecutionResult
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
from orchestrator_dynamic.flow.plan_ref import Stash, decision_size, slim
from orchestrator_dynamic.flow.workflow import STATUS_MEMO, FlowCWorkflow

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
        by_reference_bytes: int = 0,
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
        # A decision larger than this (its JSON) starts its workflow by reference (the stash,
        # flow/plan_ref.py) instead of inside the start's input; 0: never.
        self._by_reference_bytes = by_reference_bytes
        self._stash = Stash(store, clock)

    # ------------------------------------------------------------ decisions

    async def start(self, decision: ConsolidatedDecision, plan: CognitivePlan | None = None) -> str:
        """Start the decision's workflow: ``started``, or ``existing`` when one (running or
        finished) has its id. What the decision's ledger says is the caller's business."""
        attributes = search_attributes.for_decision(decision, plan) if self._searchable else None
        try:
            await self._client.start_workflow(
                WORKFLOW_NAME,
                await self._input(decision),
                id=decision.decision_id,
                task_queue=self._task_queue,
                # Running or finished, a workflow with this id means the decision was seen:
                # the start fails and the submission reports the existing one.
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={STATUS_MEMO: WorkflowStatus.VALIDATING.value},
                search_attributes=attributes,
                # A worker of this process on the same client takes the first workflow task
                # in the start's answer (no poll round trip); without one, the engine ignores
                # the request and the workflow starts as usual.
                request_eager_start=True,
            )
        except WorkflowAlreadyStartedError:
            return "existing"  # never run the same decision twice
        except RPCError as exc:
            if attributes is not None and search_attributes.is_unregistered(exc):
                # A cluster without our attributes still runs every decision: said once.
                if self._searchable:
                    self._searchable = False
                    log.warning("search_attributes_unregistered", reason=exc.message)
                return await self.start(decision, plan)
            if exc.status is RPCStatusCode.INVALID_ARGUMENT and _SIZE_REFUSAL in str(exc).lower():
                # The engine will never take this decision: a permanent refusal, not an outage.
                reason = f"the workflow engine refused the decision as too large ({exc})"
                raise TooLarge([Issue("decision.too_large", reason)]) from exc
            raise EngineUnavailable("temporal", str(exc)) from exc
        return "started"

    async def _input(self, decision: ConsolidatedDecision) -> FlowInput:
        """Small decisions travel inside the start, as they always did; a large one is stashed
        first (idempotent: keyed by its decision id) and travels by reference."""
        if not self._by_reference_bytes or decision_size(decision) <= self._by_reference_bytes:
            return FlowInput(decision, self._options())
        ref = await self._stash.put_decision(decision)
        return FlowInput(slim(decision), self._options(), decision_ref=ref)

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
        # Only the allocated worker's answer frees its slot, and the capacity ledger itself
        # knows which worker holds the ticket: a release for another agent changes nothing
        # there. The stored record is not asked, since the replica taking the result may not
        # see it yet (during a store outage the dispatch record waits in the dispatching
        # replica's spool); a slot left held for want of it would never come back.
        if self._scheduler and result.agent_id and result.status.value != "RUNNING":
            await self._scheduler.release(result.ticket_id, result.agent_id)
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

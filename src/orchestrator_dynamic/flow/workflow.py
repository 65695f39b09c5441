"""The Flow C workflow: sequences C1-C6 and waits on signals and timers. Nothing else.

Deterministic by construction: time is ``workflow.now()``, every decision about tickets is made by
the pure ``ExecutionState``, and all I/O happens in activities. Workflow id = decision_id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from orchestrator_dynamic.domain.execution import (
        CAPACITY_WAIT_MS,
        ExecutionState,
        Transition,
        TransitionKind,
        compensation_tickets,
        settle_compensated,
    )
    from orchestrator_dynamic.domain.model import (
        ConsolidatedDecision,
        ExecutionResult,
        ExecutionTicket,
        TelemetryEvent,
        TelemetryEventType,
        TicketStatus,
    )
    from orchestrator_dynamic.domain.plan_outline import plan_outline
    from orchestrator_dynamic.flow import carried
    from orchestrator_dynamic.flow.activities import FlowActivities
    from orchestrator_dynamic.flow.dispatch_record import plan_state, state_weights
    from orchestrator_dynamic.flow.payloads import (
        POLICY_REFUSED,
        WAIT_FOR_CAPACITY,
        WORKFLOW_NAME,
        AllocateInput,
        AllocateOutput,
        ApprovalSignal,
        CancelSignal,
        ConsolidateInput,
        FlowInput,
        FlowResult,
        GenerateInput,
        IssueView,
        PublishInput,
        ResultSignal,
        StashRef,
        TelemetryInput,
        TicketRecord,
        TicketView,
        ValidateInput,
        ValidateOutput,
        WorkflowStatus,
        WorkflowView,
        history_entry,
    )
    from orchestrator_dynamic.flow.retrying import BOARD

from orchestrator_dynamic.flow import continuation

# Dependencies (bus, store, registry) may be down for a while: a step waits for them with
# back-off, without an attempt limit. What retrying cannot fix, the activity raises as
# non-retryable itself (classified once, in domain/errors.py), and an unexpected error only for
# ACTIVITY_UNEXPECTED_MAX_ATTEMPTS attempts, so no step retries for ever on a bug.
DEPENDENCY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
STEP_TIMEOUT = timedelta(seconds=30)
LOCAL_TIMEOUT = timedelta(seconds=10)
TELEMETRY_FLUSH_EVERY = 200
TELEMETRY_MAX_DELAY_MS = 2_000
RECORDS_PER_ACTIVITY = 200
LOCAL_C1_PATCH = "c1-validate-local-activity"
# The status is mirrored in this memo key so a list of workflows reads every status at once.
STATUS_MEMO = "status"
STATUS_MEMO_PATCH = "status-memo"
# On a final failure the tickets that never ran become CANCELLED (with their history and
# telemetry); older histories left them PENDING.
CANCEL_UNRUN_PATCH = "cancel-unrun-on-failure"
STEP_FAILURE_PATCH = "step-failure-consolidates"
# C4 (publish), C5 (consolidate) and the telemetry flushes run as local activities: in the
# workflow task that decided them, so a layer of the DAG costs the engine no activity round
# trip; C2 runs inside C1's step and C4 inside C3's (one local activity each instead of two).
# Each is idempotent by id; C3 answers an attempt already published with the allocation on
# record (sticky, see FlowSteps.allocate) and C4 publishes each ticket exactly as the workflow
# then records it, so a workflow task retried after a publish sends the same bytes. Older
# histories replay the separate remote steps.
LOCAL_STEPS_PATCH = "local-c4-c5-c6"
# The plan's first dispatch (C3+C4 of the tickets ready at once) runs in C1's step, right after
# C2: the roots go out one engine round trip sooner. Same sticky allocation and exact publish
# as in C3's own step; older histories replay the first dispatch in a step of its own.
FIRST_DISPATCH_PATCH = "c1-first-dispatch"
# The step a combined step's part belongs to (C2 inside C1, C4 inside C3), for the status and
# the failure reason.
_STEP_OF_PART = {
    "c2_generate_tickets": "C2_GENERATE_TICKETS",
    "c3_allocate": "C3_ALLOCATE",
    "c4_publish_tickets": "C4_DISPATCH",
}

_DISPATCH_STEPS = ("C3_ALLOCATE", "C4_DISPATCH")

_In = TypeVar("_In")
_Out = TypeVar("_Out")

_EVENT_OF = {
    TransitionKind.DISPATCHED: TelemetryEventType.TICKET_ASSIGNED,
    TransitionKind.COMPLETED: TelemetryEventType.TICKET_COMPLETED,
    TransitionKind.RETRY_SCHEDULED: TelemetryEventType.TICKET_FAILED,
    TransitionKind.FAILED: TelemetryEventType.TICKET_FAILED,
    TransitionKind.TIMED_OUT: TelemetryEventType.TICKET_FAILED,
    TransitionKind.CANCELLED: TelemetryEventType.TICKET_FAILED,
    TransitionKind.PREEMPTED: TelemetryEventType.TICKET_FAILED,
    # FOREIGN_RESULT has no telemetry event: it is on the ticket's history and counted at C5.
}


@workflow.defn(name=WORKFLOW_NAME)
class FlowCWorkflow:
    def __init__(self) -> None:
        self._status = WorkflowStatus.VALIDATING
        self._step = "C1_VALIDATE"
        self._decision: ConsolidatedDecision | None = None
        self._outline: dict[str, Any] | None = None
        self._inbox: list[ExecutionResult] = []
        self._approval: ApprovalSignal | None = None
        self._plan: ExecutionState | None = None
        self._comp: ExecutionState | None = None
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._outbox: list[TelemetryEvent] = []
        self._issues: list[IssueView] = []
        self._guardrails: list[str] = []
        self._incidents: list[dict[str, Any]] = []
        self._metrics: dict[str, Any] = {}
        self._reason = ""
        self._step_error = ""
        self._timed_out: set[str] = set()
        self._cancel: CancelSignal | None = None
        # Dispatched tickets whose publish is not confirmed yet: still PENDING to the outside.
        self._unconfirmed: set[str] = set()
        self._local = False  # LOCAL_STEPS_PATCH, decided at C1
        self._first_at: int | None = None  # FIRST_DISPATCH_PATCH: the clock C1's step got
        # Large plans (flow/continuation.py): this run's input, when it started, its number in
        # a chain of continue-as-new runs, and its history budget (None: it never continues).
        self._input: FlowInput | None = None
        self._started = 0
        self._run_no = 1
        self._budget: continuation.Budget | None = None
        self._sidecars: list[StashRef] = []
        self._stashed: list[StashRef] = []  # the rest of what this workflow stashed

    _status_now: WorkflowStatus
    _status_memo = False  # decided once, first thing in run()

    @property
    def _status(self) -> WorkflowStatus:
        return self._status_now

    @_status.setter
    def _status(self, status: WorkflowStatus) -> None:
        # Every change is upserted into the memo (the start sets VALIDATING).
        if self._status_memo and getattr(self, "_status_now", status) != status:
            workflow.upsert_memo({STATUS_MEMO: status.value})
        self._status_now = status

    # ------------------------------------------------------------ signals and queries

    @workflow.signal
    def ticket_result(self, signal: ResultSignal) -> None:
        self._inbox.append(signal.result)

    @workflow.signal
    def cancel_reason(self, signal: CancelSignal) -> None:
        if self._cancel is None:  # the first operator's reason wins
            self._cancel = signal

    @workflow.signal
    def approval(self, signal: ApprovalSignal) -> None:
        if self._approval is None:  # the first human answer wins
            self._approval = signal

    @workflow.query
    def view(self) -> WorkflowView:
        tickets = [_view(t, self._unconfirmed) for t in self._all_tickets()]
        if self._outline is None and self._decision is not None:
            # Pure and command-free: computed at the first query that needs it, not on the
            # critical path of every start (a query adds no command, so replay is untouched).
            self._outline = plan_outline(self._decision)
        outline = self._outline
        waiting = _waiting()
        step = _STEP_OF_PART.get(str((waiting or {}).get("activity")), self._step)
        status = self._status
        if status is WorkflowStatus.VALIDATING and step in _DISPATCH_STEPS:
            status = WorkflowStatus.RUNNING  # C1's step got past validation: the roots go out
        return WorkflowView(
            workflow_id=workflow.info().workflow_id,
            status=status,
            step=step,
            decision_id=self._decision.decision_id if self._decision else "",
            plan_id=self._decision.plan_id if self._decision else "",
            tickets=tickets,
            incidents=self._incidents,
            issues=self._issues,
            approval=vars(self._approval) if self._approval else None,
            guardrails=self._guardrails,
            metrics=self._metrics,
            reason=self._reason,
            # Read, never written, here: the activities' record of the current step's retries
            # (flow/retrying.py); a query adds no command, so replay is untouched.
            waiting=waiting,
            risk_band=str((outline or {}).get("risk_band", "")),
            plan=None if tickets or outline is None else outline,
        )

    # ------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: FlowInput) -> FlowResult:
        # Asked before the first await: asked later, a replay could reach the call before the
        # task that recorded its marker. Histories from before the patch replay without upserts.
        self._status_memo = workflow.patched(STATUS_MEMO_PATCH)
        self._decision, self._input = inp.decision, inp
        self._started = self._now()
        if inp.resume is None:  # a continued run goes on with the first run's events
            self._event(TelemetryEventType.FLOW_C_STARTED)
        try:
            status = await self._run(inp)
        except asyncio.CancelledError:
            await self._cancelled(inp, self._started)
            raise
        except (ActivityError, ApplicationError) as exc:
            # A step failed for good (refused, not found, unauthorised, or a bug that outlived
            # its attempts): the workflow ends FAILED with the reason and an incident instead of
            # failing bare. A local activity's failure arrives as the ApplicationError itself.
            # Histories from before the patch failed bare and replay so.
            if is_cancelled_exception(exc) or not workflow.patched(STEP_FAILURE_PATCH):
                raise
            self._step_error = _step_error(self._step, exc)
            self._reason = self._step_error
            self._step_event(self._step, failed=self._step_error)
            status = WorkflowStatus.FAILED
        return await self._finish(inp, status, self._started)

    async def _run(self, inp: FlowInput) -> WorkflowStatus:
        if inp.resume is not None:
            self._status = WorkflowStatus.RUNNING
            await self._resume(inp.resume)
            return await self._run_plan(inp)
        outcome = await self._validate(inp)
        if not outcome.valid:
            return WorkflowStatus.REFUSED
        if outcome.needs_approval and not await self._wait_for_approval(inp):
            return WorkflowStatus.REJECTED
        self._step = "C2_GENERATE_TICKETS"
        tickets = outcome.tickets
        if outcome.tickets_ref is not None:  # a large plan's, from the stash
            self._stashed.append(outcome.tickets_ref)
            tickets = await continuation.read_tickets(outcome.tickets_ref)
        if tickets is None:  # generated in C1's step unless approval came between
            tickets = await self._generate(inp)
        self._step_event("C2_GENERATE_TICKETS", ticket_ids=[t.ticket_id for t in tickets])
        self._plan = self._state(tickets, inp)
        first = None
        if outcome.first_dispatch is not None and self._first_at is not None:
            first = (self._first_at, outcome.first_dispatch)
        return await self._run_plan(inp, first)

    async def _generate(self, inp: FlowInput) -> list[ExecutionTicket]:
        generate = GenerateInput(inp.decision, self._now(), inp.options, inp.decision_ref)
        if inp.decision_ref is not None:  # a large plan's tickets go through the stash
            ref = await workflow.execute_local_activity_method(
                FlowActivities.generate_stashed,
                generate,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DEPENDENCY_RETRY,
            )
            self._stashed.append(ref)
            return await continuation.read_tickets(ref)
        return await workflow.execute_local_activity_method(
            FlowActivities.generate_tickets,
            generate,
            start_to_close_timeout=LOCAL_TIMEOUT,
            retry_policy=DEPENDENCY_RETRY,
        )

    async def _run_plan(
        self, inp: FlowInput, first: tuple[int, AllocateOutput] | None = None
    ) -> WorkflowStatus:
        assert self._plan is not None
        o = inp.options
        # Options recorded before the thresholds existed carry 0: such a run never continues.
        if o.continue_as_new_events or o.continue_as_new_bytes:
            self._budget = continuation.Budget(o)
        self._status = WorkflowStatus.RUNNING
        if first is not None:  # allocated and published in C1's step, at the clock it was given
            self._step = "C3_ALLOCATE"
            self._dispatched(self._plan, *first, local=True)
        await self._execute(self._plan)
        if self._plan.succeeded():
            return WorkflowStatus.COMPLETED
        self._cancel_unrun(self._plan)
        await self._compensate(inp)
        return WorkflowStatus.FAILED

    def _cancel_unrun(self, state: ExecutionState) -> None:
        """After a final failure, what never ran will not run: CANCELLED, not left PENDING."""
        if not workflow.patched(CANCEL_UNRUN_PATCH):
            return
        now = self._now()
        failed = [t.task_id for t in state.tickets.values() if t.status is TicketStatus.FAILED]
        reason = f"not run: {', '.join(failed)} failed" if failed else "not run"
        for ticket_id in state.cancel_unrun(reason):
            self._record(state, Transition(ticket_id, TransitionKind.CANCELLED, now, reason))

    async def _validate(self, inp: FlowInput) -> ValidateOutput:
        self._step_event("C1_VALIDATE", started=True)
        validate_input = ValidateInput(inp.decision, workflow.info().workflow_id, inp.options)
        validate_input.decision_ref = inp.decision_ref
        self._local = workflow.patched(LOCAL_STEPS_PATCH)
        if self._local:
            validate_input.generate_at_ms = self._now()
            if inp.decision_ref is None and workflow.patched(FIRST_DISPATCH_PATCH):
                self._first_at = validate_input.generate_at_ms
                validate_input.first_dispatch = AllocateInput(
                    [],
                    self._first_at,
                    workflow_id=workflow.info().workflow_id,
                    telemetry=self._take_outbox(),
                )
        if workflow.patched(LOCAL_C1_PATCH):
            # C1 is short and idempotent (an upsert of the audit record), so it runs as a local
            # activity inside the first workflow task: one engine round trip less before the
            # root tickets go out. Histories recorded before the patch replay the old path.
            outcome = await workflow.execute_local_activity_method(
                FlowActivities.validate,
                validate_input,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DEPENDENCY_RETRY,
            )
        else:
            outcome = await workflow.execute_activity_method(
                FlowActivities.validate,
                validate_input,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DEPENDENCY_RETRY,
            )
        self._issues, self._guardrails = outcome.issues, outcome.guardrails
        if not outcome.valid:
            self._reason = "; ".join(f"{i.code}: {i.message}" for i in outcome.issues)
            self._step_event("C1_VALIDATE", failed=self._reason)
            return outcome
        self._step_event("C1_VALIDATE")
        if outcome.needs_approval:
            self._reason = outcome.approval_reason
        return outcome

    async def _wait_for_approval(self, inp: FlowInput) -> bool:
        self._status, self._step = WorkflowStatus.AWAITING_APPROVAL, "APPROVAL"
        try:
            await workflow.wait_condition(
                lambda: self._approval is not None,
                timeout=timedelta(seconds=inp.options.approval_timeout_s),
            )
        except TimeoutError:
            self._approval = ApprovalSignal(False, "system", "approval timed out", self._now())
        assert self._approval is not None
        if not self._approval.approved:
            self._reason = f"rejected by {self._approval.by}: {self._approval.reason}".rstrip(": ")
        return self._approval.approved

    def _state(self, tickets: list[ExecutionTicket], inp: FlowInput) -> ExecutionState:
        return plan_state(tickets, inp.options)

    # ------------------------------------------------------------ C3 + C4 loop

    async def _execute(self, state: ExecutionState) -> None:
        while not state.finished():
            if state is self._plan and self._budget is not None and self._budget.spent():
                await self._continue_as_new(state)
            now = self._now()
            for transition in state.expire(now):
                self._record(state, transition)
            batch = state.ready(now)
            if batch:
                await self._dispatch(state, batch, now)
                continue
            await self._wait(state, now)
            self._drain(state)

    async def _dispatch(
        self, state: ExecutionState, batch: list[ExecutionTicket], now: int
    ) -> None:
        self._step = "C3_ALLOCATE"
        local = workflow.patched(LOCAL_STEPS_PATCH)
        approval = vars(self._approval) if self._approval else None
        allocate = AllocateInput(batch, now, approval, state_weights(state))
        if local:  # C4 in the same step: it publishes what is recorded below
            allocate.dispatch_counts = {
                t.ticket_id: len(self._history.get(t.ticket_id, [])) for t in batch
            }
            allocate.workflow_id = workflow.info().workflow_id
            allocate.histories = {
                t.ticket_id: list(self._history.get(t.ticket_id, [])) for t in batch
            }
            allocate.telemetry = self._take_outbox()
        allocated = await workflow.execute_local_activity_method(
            FlowActivities.allocate,
            allocate,
            start_to_close_timeout=STEP_TIMEOUT if local else LOCAL_TIMEOUT,
            retry_policy=DEPENDENCY_RETRY,
        )
        records = self._dispatched(state, now, allocated, local)
        if local or not records:
            return  # published in C3's step, or nothing to publish (waiting for capacity)
        self._step = "C4_DISPATCH"
        # Published as PENDING (what workers run); RUNNING for the outside once confirmed.
        self._unconfirmed = {r.ticket.ticket_id for r in records}
        try:
            await workflow.execute_activity_method(
                FlowActivities.publish_tickets,
                PublishInput(workflow.info().workflow_id, records, self._take_outbox()),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DEPENDENCY_RETRY,
            )
        finally:
            self._unconfirmed = set()

    def _dispatched(
        self, state: ExecutionState, now: int, allocated: AllocateOutput, local: bool
    ) -> list[TicketRecord]:
        """C3's answer recorded: refused tickets fail, the ones waiting for capacity are asked
        again later, the rest are dispatched. Returns the records C4 is to publish: none when
        C3's step (``local``) published them already."""
        records = []
        for allocation in allocated.allocations:
            if allocation.method == WAIT_FOR_CAPACITY:  # every able worker is full: later
                state.not_before[allocation.ticket_id] = now + CAPACITY_WAIT_MS
                continue
            if allocation.method == POLICY_REFUSED:
                refusal = allocation.metadata.get("policy_refusal", "refused by policy")
                self._record(state, state.refuse(allocation.ticket_id, now, refusal))
                continue
            ticket = state.dispatch(allocation.ticket_id, now, allocation.metadata)
            kind, method = TransitionKind.DISPATCHED, allocation.method
            self._record(
                state, Transition(ticket.ticket_id, kind, now, method, allocation.worker_id)
            )
            if not local:  # published in C3's step otherwise: no record to build
                records.append(TicketRecord(ticket, list(self._history[ticket.ticket_id])))
        return records

    async def _wait(self, state: ExecutionState, now: int) -> None:
        if len(self._outbox) >= TELEMETRY_FLUSH_EVERY:
            await self._flush_telemetry()
        wake = state.next_wakeup(now)
        if self._outbox:
            oldest = self._outbox[0].timestamp + TELEMETRY_MAX_DELAY_MS
            wake = oldest if wake is None else min(wake, oldest)
        timeout = None if wake is None else timedelta(milliseconds=max(1, wake - now))
        try:
            await workflow.wait_condition(lambda: bool(self._inbox), timeout=timeout)
        except TimeoutError:
            if self._outbox and not self._inbox:
                await self._flush_telemetry()

    def _drain(self, state: ExecutionState) -> None:
        while self._inbox:
            result = self._inbox.pop(0)
            transition = state.apply(result, self._now())
            if transition is not None:
                self._record(state, transition)

    async def _compensate(self, inp: FlowInput) -> None:
        assert self._plan is not None
        comps = compensation_tickets(self._plan, self._now())
        if not comps:
            return
        self._status = WorkflowStatus.COMPENSATING
        self._comp = self._state(comps, inp)
        await self._execute(self._comp)
        if not self._comp.succeeded():
            self._cancel_unrun(self._comp)
        settle_compensated(self._plan, self._comp)

    # ------------------------------------------------------------ continue-as-new

    async def _continue_as_new(self, state: ExecutionState) -> None:
        """Stash what this run carries and continue as new with it (flow/continuation.py).
        Called between steps, so nothing is in flight but results in the inbox."""
        assert self._input is not None
        self._drain(state)
        await workflow.wait_condition(workflow.all_handlers_finished)
        info = workflow.info()
        aside = carried.settle(state)
        if aside:
            key = f"sidecar/{info.workflow_id}/{info.run_id}/{len(self._sidecars)}"
            text = carried.encode_sidecar(aside)
            self._sidecars.append(await continuation.write(key, text))
        handed = carried.Carried(
            state,
            self._history,
            self._started,
            sorted(self._timed_out),
            self._issues,
            self._guardrails,
            self._approval,
            self._reason,
            list(self._outbox),
            self._run_no + 1,
            list(self._sidecars),
            list(self._stashed),
        )
        key = f"state/{info.workflow_id}/{info.run_id}"
        ref = await continuation.write(key, carried.encode(handed))
        if self._inbox:  # results came in meanwhile: applied first, the switch comes later
            self._stashed.append(ref)  # this one is dropped at the end with the rest
            return
        inp = self._input
        workflow.continue_as_new(FlowInput(inp.decision, inp.options, inp.decision_ref, ref))

    async def _resume(self, ref: StashRef) -> None:
        handed = carried.decode(await continuation.read(ref))
        self._plan, self._history, self._started = handed.plan, handed.history, handed.started_ms
        self._timed_out = set(handed.timed_out)
        self._issues, self._guardrails = handed.issues, handed.guardrails
        self._approval, self._reason = handed.approval, handed.reason
        self._outbox = handed.outbox + self._outbox
        self._run_no, self._step = handed.run, "C3_ALLOCATE"
        self._sidecars, self._stashed = handed.sidecars, [*handed.stashed, ref]

    # ------------------------------------------------------------ C5 + C6

    async def _finish(self, inp: FlowInput, status: WorkflowStatus, started: int) -> FlowResult:
        self._step = "C5_CONSOLIDATE"
        out = await self._step_call(
            workflow.patched(LOCAL_STEPS_PATCH),
            FlowActivities.consolidate,
            self._consolidate_input(inp, status, started),
        )
        self._metrics = out.metrics
        if out.incident is not None:
            self._incidents.append(out.incident_doc or out.incident.model_dump(mode="json"))
        self._step = "C6_TELEMETRY"
        self._event(
            TelemetryEventType.FLOW_C_COMPLETED,
            status=status.value,
            success=status is WorkflowStatus.COMPLETED,
            duration_ms=self._now() - started,
            sla_compliant=out.metrics.get("sla_violations", 0) == 0,
        )
        await self._flush_final()
        if inp.decision_ref or self._stashed or self._sidecars:  # a large plan's, no longer needed
            refs = [*([inp.decision_ref] if inp.decision_ref else []), *self._stashed]
            await continuation.drop([*refs, *self._sidecars])
        self._status, self._step = status, "DONE"
        incident_id = out.incident.incident_id if out.incident else None
        return FlowResult(
            workflow.info().workflow_id, status, self._reason, out.metrics, incident_id
        )

    def _consolidate_input(
        self, inp: FlowInput, status: WorkflowStatus, started: int
    ) -> ConsolidateInput:
        return ConsolidateInput(
            workflow_id=workflow.info().workflow_id,
            decision=inp.decision.model_copy(update={"cognitive_plan": None}),
            status=status,
            tickets=list(self._plan.tickets.values()) if self._plan else [],
            compensations=list(self._comp.tickets.values()) if self._comp else [],
            timed_out=sorted(self._timed_out_ids()),
            started_at_ms=started,
            finished_at_ms=self._now(),
            reason=self._reason,
            issues=self._issues,
            approval=vars(self._approval) if self._approval else None,
            guardrails=self._guardrails,
            foreign_results=[r for s in self._states() for r in s.foreign_results],
            step_error=self._step_error,
        )

    def _states(self) -> list[ExecutionState]:
        return [s for s in (self._plan, self._comp) if s is not None]

    def _timed_out_ids(self) -> set[str]:
        """The state machine's own record of timed-out attempts (never a worker's error text)."""
        return self._timed_out.union(*(s.timed_out() for s in self._states()))

    async def _cancelled(self, inp: FlowInput, started: int) -> None:
        """Every unfinished ticket becomes CANCELLED; running ones are re-published (as FAILED
        with ``error_message: cancelled`` on the wire) to tell their workers to stop."""
        now = self._now()
        self._reason = _cancel_text(self._cancel)
        stopped: list[ExecutionTicket] = []
        kind = TransitionKind.CANCELLED
        for state in self._states():
            unrun = [tid for tid, t in state.tickets.items() if t.status is TicketStatus.PENDING]
            for ticket in state.cancel(now, self._reason):
                self._record(state, Transition(ticket.ticket_id, kind, now, self._reason))
                stopped.append(ticket)
            for ticket_id in unrun:
                self._record(state, Transition(ticket_id, kind, now, self._reason))
        if stopped:
            records = [TicketRecord(t, self._history.get(t.ticket_id, [])) for t in stopped]
            await workflow.execute_activity_method(
                FlowActivities.publish_tickets,
                PublishInput(workflow.info().workflow_id, records, []),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DEPENDENCY_RETRY,
            )
        await self._finish(inp, WorkflowStatus.CANCELLED, started)

    async def _flush_telemetry(self) -> None:
        await self._step_call(
            workflow.patched(LOCAL_STEPS_PATCH),
            FlowActivities.emit_telemetry,
            TelemetryInput(workflow.info().workflow_id, self._take_outbox()),
        )

    async def _flush_final(self) -> None:
        """Last telemetry plus every ticket's final record, in chunks that fit a payload."""
        reports = {k: v for s in self._states() for k, v in s.reports.items()}
        records = [
            TicketRecord(t, self._history.get(t.ticket_id, []), reports.get(t.ticket_id))
            for t in self._all_tickets()
        ]
        chunks = [
            records[i : i + RECORDS_PER_ACTIVITY]
            for i in range(0, len(records), RECORDS_PER_ACTIVITY)
        ]
        local = workflow.patched(LOCAL_STEPS_PATCH)
        for index, chunk in enumerate(chunks or [[]]):
            events = self._take_outbox() if index == len(chunks or [[]]) - 1 else []
            await self._step_call(
                local,
                FlowActivities.emit_telemetry,
                TelemetryInput(workflow.info().workflow_id, events, chunk, self._sidecars),
            )

    async def _step_call(
        self,
        local: bool,
        step: Callable[[FlowActivities, _In], Awaitable[_Out]],
        arg: _In,
    ) -> _Out:
        """One step, in this workflow task (local) or as an activity of its own (older
        histories); the same retries either way."""
        if local:
            return await workflow.execute_local_activity_method(
                step, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=DEPENDENCY_RETRY
            )
        return await workflow.execute_activity_method(
            step, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=DEPENDENCY_RETRY
        )

    # ------------------------------------------------------------ bookkeeping

    def _now(self) -> int:
        return int(workflow.now().timestamp() * 1000)

    def _all_tickets(self) -> list[ExecutionTicket]:
        out: list[ExecutionTicket] = []
        for state in (self._plan, self._comp):
            if state is not None:
                out += state.tickets.values()
        return out

    def _record(self, state: ExecutionState, transition: Transition) -> None:
        ticket = state.tickets[transition.ticket_id]
        if ticket.ticket_id in state.timeouts:  # the state machine's record, not the text
            self._timed_out.add(ticket.ticket_id)
        self._history.setdefault(ticket.ticket_id, []).append(
            history_entry(
                ticket.status.value,
                transition.at_ms,
                transition.kind.value,
                transition.detail,
                transition.worker_id,
            )
        )
        event = _EVENT_OF.get(transition.kind)
        if event is None:
            return
        self._event(
            event,
            ticket_id=ticket.ticket_id,
            task_type=ticket.task_type.value,
            worker_id=transition.worker_id or ticket.metadata.get("worker_id"),
            status=ticket.status.value,
            duration_ms=ticket.actual_duration_ms,
            error=transition.detail or None,
            sla_compliant=_sla_ok(ticket, transition.at_ms),
        )
        if transition.kind is TransitionKind.TIMED_OUT:
            self._event(TelemetryEventType.SLA_VIOLATION, ticket_id=ticket.ticket_id)

    def _step_event(self, step: str, *, started: bool = False, failed: str = "", **kw: Any) -> None:
        kind = TelemetryEventType.STEP_STARTED if started else TelemetryEventType.STEP_COMPLETED
        if failed:
            kind = TelemetryEventType.STEP_FAILED
        self._event(kind, step=step, error=failed or None, **kw)

    def _event(self, kind: TelemetryEventType, **fields: Any) -> None:
        d = self._decision
        self._outbox.append(
            TelemetryEvent(
                event_type=kind,
                timestamp=self._now(),
                intent_id=d.intent_id if d else None,
                plan_id=d.plan_id if d else None,
                decision_id=d.decision_id if d else None,
                workflow_id=workflow.info().workflow_id,
                correlation_id=d.correlation_id if d else None,
                trace_id=d.trace_id if d else None,
                span_id=d.span_id if d else None,
                **fields,
            )
        )

    def _take_outbox(self) -> list[TelemetryEvent]:
        events, self._outbox = self._outbox, []
        return events


def _step_error(step: str, exc: ActivityError | ApplicationError) -> str:
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError):
        # A combined step names the part that failed (C4 inside C3's step is C4_DISPATCH).
        part = cause.details[0] if cause.details else None
        if isinstance(part, dict):
            step = _STEP_OF_PART.get(str(part.get("activity")), step)
        return f"{step} failed: {cause.type}: {cause.message}"
    return f"{step} failed: {cause or exc}"


def _waiting() -> dict[str, Any] | None:
    info = workflow.info()
    entry = BOARD.waiting(info.workflow_id, info.run_id)
    return dict(entry.as_dict()) if entry is not None else None


def _sla_ok(ticket: ExecutionTicket, at_ms: int) -> bool:
    return at_ms <= ticket.sla.deadline


def _cancel_text(signal: CancelSignal | None) -> str:
    if signal is None:
        return "cancelled by operator"
    text = f"cancelled by {signal.by or 'operator'}"
    return f"{text}: {signal.reason}" if signal.reason else text


def _view(t: ExecutionTicket, unconfirmed: frozenset[str] | set[str] = frozenset()) -> TicketView:
    pending = t.ticket_id in unconfirmed  # dispatched, publish not confirmed yet
    return TicketView(
        ticket_id=t.ticket_id,
        task_id=t.task_id,
        task_type=t.task_type.value,
        status=TicketStatus.PENDING.value if pending else t.status.value,
        worker_id=t.metadata.get("worker_id"),
        started_at=None if pending else t.started_at,
        completed_at=t.completed_at,
        retry_count=t.retry_count,
        compensation_ticket_id=t.compensation_ticket_id,
        deadline=t.sla.deadline,
        error_message=t.error_message,
        dependencies=list(t.dependencies),
        created_at=t.created_at,
        description=t.description,
        estimated_duration_ms=t.estimated_duration_ms,
    )

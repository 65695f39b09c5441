"""The work behind each Flow C activity (C1-C6): workflow payloads in, calls into the services
and ports out, payloads back. Activities make one call into this class; the services it calls
know nothing of the workflow engine."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from orchestrator_dynamic.domain.consolidation import (
    consolidate,
    incident_document,
    incident_for,
    sla_violated,
)
from orchestrator_dynamic.domain.errors import (
    Issue,
    MalformedMessage,
    PlanRefused,
    StoreUnavailable,
)
from orchestrator_dynamic.domain.model import ExecutionTicket, FinalDecision, TicketStatus
from orchestrator_dynamic.domain.ports import Allocation, Collection, Publisher, Scheduler, Store
from orchestrator_dynamic.domain.rules import SlaPolicy
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.domain.task_types import alias_table
from orchestrator_dynamic.flow.dispatch_record import (
    ACTIVITY_PART,
    DISPATCH_COUNT,
    dispatches,
    first_dispatch,
    recorded_view,
)
from orchestrator_dynamic.flow.payloads import (
    WAIT_FOR_CAPACITY,
    AllocateInput,
    AllocateOutput,
    AllocationView,
    ConsolidateInput,
    ConsolidateOutput,
    FlowOptions,
    GenerateInput,
    IssueView,
    PublishInput,
    TelemetryInput,
    TicketRecord,
    ValidateInput,
    ValidateOutput,
    WorkflowStatus,
)
from orchestrator_dynamic.flow.ticket_policy import TicketChecks
from orchestrator_dynamic.observability import metrics, tracing
from orchestrator_dynamic.services import ml_steps
from orchestrator_dynamic.services.allocation_outcomes import publish_outcomes
from orchestrator_dynamic.services.decision_ledger import DECISION_FIELDS, record_decision
from orchestrator_dynamic.services.planning import PlanningConfig, plan_decision
from orchestrator_dynamic.services.policy import PolicyValidator
from orchestrator_dynamic.services.scheduling import all_able_full, release_ended
from orchestrator_dynamic.services.sla_monitor import SlaMonitor
from orchestrator_dynamic.services.telemetry import TelemetryEmitter, trace_headers

if TYPE_CHECKING:
    from orchestrator_dynamic.services.ml.predictor import MLPredictor

log = structlog.get_logger(__name__)

_TRACED = {"ticket_id", "decision_id", "plan_id", "intent_id"}


@dataclass(frozen=True)
class Topics:
    tickets: str = "execution.tickets"
    telemetry: str = "telemetry.orchestration"
    incidents: str = "orchestration.incidents"
    allocation_outcomes: str = "ml.allocation_outcomes"


@dataclass
class FlowDeps:
    """Everything the steps touch, built once by the composition root."""

    publisher: Publisher
    store: Store
    scheduler: Scheduler
    clock: Callable[[], int]
    topics: Topics = field(default_factory=Topics)
    policy: PolicyValidator | None = None  # None when OPA_ENABLED is off
    sla: SlaMonitor | None = None  # proactive SLA checkpoint after C4 publishes
    ml: MLPredictor | None = None  # predictions before scoring (ML_PREDICTIONS_ENABLED)


def planning_config(options: FlowOptions) -> PlanningConfig:
    sla = SlaPolicy(options.min_timeout_ms, options.timeout_buffer)
    weights = PriorityWeights(*options.weights)
    return PlanningConfig(sla, weights, alias_table(options.task_type_aliases))


class FlowSteps:
    def __init__(self, deps: FlowDeps) -> None:
        self._deps = deps
        self._telemetry = TelemetryEmitter(deps.publisher, deps.store, deps.topics.telemetry)

    @property
    def ml_predictor(self) -> MLPredictor | None:
        return self._deps.ml

    @property
    def deps(self) -> FlowDeps:
        return self._deps

    # ---------------------------------------------------------------- C1

    async def validate(self, inp: ValidateInput) -> ValidateOutput:
        """Domain rules, then policies; every verdict is audited."""
        now = self._deps.clock()
        # With C2 in this step the plan is built once, at the workflow's clock: C2's tickets are
        # exactly these (plan_decision is deterministic), and the rules see the same moment.
        plan_at = inp.generate_at_ms if inp.generate_at_ms is not None else now
        outcome, tickets = await self._validate(inp, now, plan_at)
        await self._audit(inp, outcome, now)
        metrics.VALIDATIONS.labels("valid" if outcome.valid else "refused").inc()
        if inp.generate_at_ms is not None and outcome.valid and not outcome.needs_approval:
            ACTIVITY_PART.set("c2_generate_tickets")
            _count_generated(tickets)
            await self.sla_checkpoint("c2_generate", inp.workflow_id, tickets)
            outcome.tickets = tickets
            if inp.first_dispatch is not None:
                # The roots go out in this step: one engine round trip less before they do.
                ACTIVITY_PART.set("c3_allocate")
                first = first_dispatch(inp.first_dispatch, tickets, inp.options)
                outcome.first_dispatch = await self.allocate(first)
        if inp.first_dispatch is not None and outcome.first_dispatch is None:
            # No dispatch after all (refused, or waiting for approval): the workflow's telemetry
            # handed to it goes out all the same.
            await self._telemetry.emit(inp.first_dispatch.telemetry, now)
        return outcome

    async def _validate(
        self, inp: ValidateInput, now: int, plan_at: int
    ) -> tuple[ValidateOutput, list[ExecutionTicket]]:
        try:
            planned = plan_decision(inp.decision, plan_at, planning_config(inp.options))
        except (MalformedMessage, PlanRefused) as exc:
            return ValidateOutput(valid=False, issues=_views(exc.issues)), []
        issues: list[Issue] = []
        warnings: list[str] = []
        if self._deps.policy is not None:
            verdict = await self._deps.policy.validate_plan(
                planned.plan, planned.tickets, now, inp.options.max_in_flight
            )
            issues, warnings = verdict.issues(), list(verdict.warnings)
        if issues:
            return ValidateOutput(valid=False, issues=_views(issues), warnings=warnings), []
        decision, plan = planned.decision, planned.plan
        reasons = []
        if decision.final_decision is FinalDecision.REVIEW_REQUIRED:
            reasons.append("the consensus asked for human review")
        elif decision.requires_human_review:
            reasons.append("the decision requires human review")
        if plan.requires_approval:
            reasons.append("the plan requires approval")
        if plan.is_destructive or plan.destructive_tasks:
            reasons.append("the plan has destructive tasks")
        outcome = ValidateOutput(
            valid=True,
            needs_approval=bool(reasons),
            approval_reason="; ".join(reasons),
            guardrails=list(decision.guardrails_triggered),
            warnings=warnings,
        )
        return outcome, planned.tickets

    async def _audit(self, inp: ValidateInput, outcome: ValidateOutput, now: int) -> None:
        record = {
            "plan_id": inp.decision.plan_id,
            "workflow_id": inp.workflow_id,
            "validation_result": {
                "valid": outcome.valid,
                "issues": [vars(i) for i in outcome.issues],
                "warnings": outcome.warnings,
            },
            "timestamp": now,
            "hash": inp.decision.hash,
        }
        await self._deps.store.put(Collection.VALIDATION_AUDIT, f"{inp.workflow_id}:c1", record)
        log.info("validation_audit_saved", workflow_id=inp.workflow_id, valid=outcome.valid)
        if not outcome.valid and inp.decision.decision_id:
            reason = "; ".join(f"{i.code}: {i.message}" for i in outcome.issues)
            fields = inp.decision.model_dump(mode="json", include=set(DECISION_FIELDS))
            await record_decision(self._deps.store, fields, "refused", reason, now)

    # ---------------------------------------------------------------- C2

    def generate(self, inp: GenerateInput) -> list[ExecutionTicket]:
        """Deterministic: the same decision and clock give the same tickets."""
        config = planning_config(inp.options)
        with metrics.TICKET_GENERATION_DURATION.time():
            tickets = plan_decision(inp.decision, inp.created_at_ms, config).tickets
        _count_generated(tickets)
        return tickets

    async def generate_checked(self, inp: GenerateInput, workflow_id: str) -> list[ExecutionTicket]:
        """C2, then the proactive SLA checkpoint over the new tickets."""
        tickets = self.generate(inp)
        await self.sla_checkpoint("c2_generate", workflow_id, tickets)
        return tickets

    # ---------------------------------------------------------------- C3

    async def allocate(self, inp: AllocateInput) -> AllocateOutput:
        """Per ticket: predictions (when ML is on), policies, then the scheduler, then policies
        on the chosen worker; a refused ticket comes back as POLICY_REFUSED and is never
        dispatched."""
        recorded = await self._recorded_allocations(inp)
        fresh = [t for t in inp.tickets if t.ticket_id not in recorded]
        tickets = ml_steps.with_predictions(self._deps.ml, fresh)
        views = {t.ticket_id: await self._allocate_one(t, inp) for t in tickets}
        out = AllocateOutput([recorded.get(t.ticket_id) or views[t.ticket_id] for t in inp.tickets])
        if inp.workflow_id:
            ACTIVITY_PART.set("c4_publish_tickets")
            await self.publish(dispatches(inp, out))
        return out

    async def _recorded_allocations(self, inp: AllocateInput) -> dict[str, AllocationView]:
        """Sticky allocations: an attempt C4 already stored (same ticket, same number of
        history entries before it) is answered with the allocation on record, so a workflow
        task retried after its publish sends byte-identical tickets again."""
        if not inp.dispatch_counts:
            return {}
        out: dict[str, AllocationView] = {}
        for ticket in inp.tickets:
            count = inp.dispatch_counts.get(ticket.ticket_id)
            try:
                doc = await self._deps.store.get(Collection.TICKETS, ticket.ticket_id)
            except StoreUnavailable as exc:
                # Dispatch goes on through a store outage, as the store's writes do (they wait
                # in the spool): allocated afresh. Only a task retried after a publish during
                # the same outage could then publish other bytes.
                log.warning("sticky_allocations_unread", reason=str(exc))
                return out
            if count is not None and doc is not None and doc.get(DISPATCH_COUNT) == count:
                out[ticket.ticket_id] = recorded_view(ticket.ticket_id, doc)
        return out

    async def _allocate_one(self, ticket: ExecutionTicket, inp: AllocateInput) -> AllocationView:
        checks = TicketChecks.of(self._deps.policy, ticket, inp)
        checks.context = ml_steps.with_model_accuracy(self._deps.ml, checks.context)
        if (refused := await checks.before()) is not None:
            return refused
        # Policy feature flags steer the scheduler: a ticket outside the intelligent scheduler's
        # namespaces and risk bands is placed by rotation instead.
        intelligent = checks.flags.get("intelligent_scheduler")
        # The workflow's own weights (frozen when it started), not this process's settings.
        weights = PriorityWeights(*inp.weights) if inp.weights is not None else None
        allocation = await self._deps.scheduler.allocate(
            ticket, inp.now_ms, intelligent=intelligent, weights=weights
        )
        if (refused := await checks.after(allocation)) is not None:
            if allocation.worker_id:
                await self._deps.scheduler.release(ticket.ticket_id, allocation.worker_id)
            return refused
        if allocation.worker_id is None and all_able_full(allocation):
            # Published unassigned, it would be taken by a worker the scheduler counts as full.
            return AllocationView(ticket.ticket_id, None, WAIT_FOR_CAPACITY, 0.0)
        return _view(ticket, allocation, checks.flags)

    # ---------------------------------------------------------------- C4

    async def publish(self, inp: PublishInput) -> None:
        """Store first (so results can be routed), then the bus; both are idempotent by id.

        A dispatch (the workflow's RUNNING ticket) goes on the bus as PENDING, the only status
        a worker runs, and is stored as PENDING until the bus confirmed it, then as RUNNING
        with ``started_at``. Re-publications (a stop notice) go out in their wire form."""
        now = self._deps.clock()
        records = [r for r in [await self._fenced(r) for r in inp.tickets] if r is not None]
        inp = PublishInput(inp.workflow_id, records, inp.telemetry)
        dispatched = [r for r in inp.tickets if r.ticket.status is TicketStatus.RUNNING]
        for record in inp.tickets:
            await self._save_ticket(inp.workflow_id, record, now, confirmed=False)
        for record in inp.tickets:
            ticket = _wire(record.ticket)
            topic = self._deps.topics.tickets
            attributes = tracing.decision_attributes(
                {**ticket.model_dump(include=_TRACED), **ticket.metadata}
            )
            with tracing.publish_span(topic, ticket.ticket_id, attributes):
                await self._deps.publisher.publish(
                    topic,
                    ticket.model_dump_json().encode(),
                    key=ticket.ticket_id,
                    headers=trace_headers(ticket.trace_id, ticket.span_id),
                )
            metrics.TICKETS_PUBLISHED.labels(ticket.status.value).inc()
        for record in dispatched:
            await self._save_ticket(inp.workflow_id, record, now)
        await self._telemetry.emit(inp.telemetry, now)
        # A stop notice (CANCELLED) is not work under an SLA any more: only dispatches are checked.
        await self.sla_checkpoint("c4_publish", inp.workflow_id, [r.ticket for r in dispatched])

    async def _fenced(self, record: TicketRecord) -> TicketRecord | None:
        """One content per attempt, whoever publishes it. A process that stalled in this step
        past its timeout (a zombie) resumes after another one ran the step again: the attempt
        on record wins. Already confirmed, or overtaken by a later attempt or by its end, the
        dispatch is dropped; stored but not confirmed (a publisher stopped between store and
        bus), the stored content goes out, byte for byte."""
        if record.ticket.status is not TicketStatus.RUNNING:
            return record
        try:
            stored = await self._deps.store.get(Collection.TICKETS, record.ticket.ticket_id)
        except StoreUnavailable:
            return record  # as the sticky allocation does: the write will wait in the spool
        theirs = None if stored is None else stored.get(DISPATCH_COUNT)
        if stored is None or theirs is None:
            return record
        ours = len(record.history) - 1
        if theirs < ours:
            return record
        if theirs > ours or stored.get("status") != TicketStatus.PENDING.value:
            metrics.STALE_DISPATCHES.inc()
            log.warning("stale_dispatch_dropped", ticket_id=record.ticket.ticket_id, attempt=ours)
            return None
        fields = {k: v for k, v in stored.items() if k in ExecutionTicket.model_fields}
        ticket = ExecutionTicket.model_validate(fields).model_copy(
            update={"status": TicketStatus.RUNNING, "started_at": record.ticket.started_at}
        )
        return TicketRecord(ticket, list(stored.get("history") or record.history), record.report)

    async def sla_checkpoint(
        self, stage: str, workflow_id: str, tickets: list[ExecutionTicket]
    ) -> None:
        """Proactive SLA check (after C2 and C4); fails open, never fails the activity."""
        if self._deps.sla is not None:
            await self._deps.sla.checkpoint(stage, workflow_id, tickets)

    async def _save_ticket(
        self, workflow_id: str, record: TicketRecord, now: int, confirmed: bool = True
    ) -> None:
        """``confirmed=False`` for a dispatch not yet on the bus: recorded as still PENDING."""
        ticket = record.ticket
        if not confirmed and ticket.status is TicketStatus.RUNNING:
            ticket = ticket.model_copy(update={"status": TicketStatus.PENDING, "started_at": None})
        doc = ticket.model_dump(mode="json")
        doc.update(
            workflow_id=workflow_id,
            worker_id=record.ticket.metadata.get("worker_id"),
            history=record.history,
            timestamp=now,
        )
        if record.ticket.status is TicketStatus.RUNNING:  # the attempt C3 keeps sticky
            doc[DISPATCH_COUNT] = len(record.history) - 1
        if record.report is not None:  # what the worker said: output, metadata, logs
            doc["result"] = record.report.model_dump(mode="json")
        await self._deps.store.put(Collection.TICKETS, record.ticket.ticket_id, doc)
        log.info("ticket_saved", ticket_id=record.ticket.ticket_id, status=doc["status"])

    # ---------------------------------------------------------------- C6

    async def emit(self, inp: TelemetryInput) -> None:
        now = self._deps.clock()
        for record in inp.tickets:
            await self._save_ticket(inp.workflow_id, record, now)
        await self._telemetry.emit(inp.events, now)
        ended = [r.ticket for r in inp.tickets]
        await release_ended(self._deps.scheduler, ended)
        ml_steps.feed_back(self._deps.ml, ended)
        if self._deps.topics.allocation_outcomes:  # "" when ML_ALLOCATION_OUTCOMES_ENABLED=false
            await publish_outcomes(
                self._deps.publisher, self._deps.topics.allocation_outcomes, ended
            )

    async def flush_telemetry(self) -> int:
        return await self._telemetry.flush_buffer()

    # ---------------------------------------------------------------- C5

    async def consolidate(self, inp: ConsolidateInput) -> ConsolidateOutput:
        now = self._deps.clock()
        summary = consolidate(
            inp.tickets,
            inp.compensations,
            inp.started_at_ms,
            inp.finished_at_ms,
            expect_success=inp.status is WorkflowStatus.COMPLETED,
            timed_out=set(inp.timed_out),
        )
        incident = None
        incident_doc: dict[str, Any] | None = None
        if inp.status is WorkflowStatus.FAILED or not summary.consistent:
            incident = incident_for(
                inp.workflow_id,
                inp.tickets,
                summary,
                set(inp.timed_out),
                inp.decision.correlation_id,
                inp.decision.trace_id,
                now,
                inp.step_error,
            )
            incident_doc = incident_document(incident, [*inp.tickets, *inp.compensations])
            await self._publish_incident(incident, incident_doc)
        await self._save_result(inp, summary.as_dict(), incident, now)
        _observe(inp, incident, now)
        return ConsolidateOutput(
            metrics=summary.as_dict(), incident=incident, incident_doc=incident_doc
        )

    async def _publish_incident(self, incident: Any, doc: dict[str, Any]) -> None:
        await self._deps.store.put(
            Collection.INCIDENTS,
            incident.incident_id,
            {**doc, "type": incident.incident_type.value, "timestamp": incident.created_at},
        )
        log.info("incident_saved", incident_id=incident.incident_id)
        await self._deps.publisher.publish(
            self._deps.topics.incidents,
            json.dumps(doc, separators=(",", ":")).encode(),
            key=incident.workflow_id,
        )

    async def _save_result(
        self, inp: ConsolidateInput, metrics: dict[str, Any], incident: Any, now: int
    ) -> None:
        record = {
            "workflow_id": inp.workflow_id,
            "decision_id": inp.decision.decision_id,
            "plan_id": inp.decision.plan_id,
            "intent_id": inp.decision.intent_id,
            "status": inp.status.value,
            "reason": inp.reason,
            # the console's workflow list shows it without asking the engine (C5 gets no plan)
            "risk_band": inp.tickets[0].risk_band.value if inp.tickets else None,
            "consolidated_at": now,
            "started_at": inp.started_at_ms,
            "metrics": metrics,
            "sla_status": {
                "violations_count": metrics["sla_violations"],
                "compliant": metrics["sla_violations"] == 0,
            },
            "tickets": [
                {"ticket_id": t["ticket_id"], "task_id": t["task_id"], "status": t["status"]}
                for t in metrics["tickets"]
            ],
            "issues": [vars(i) for i in inp.issues],
            "approval": inp.approval,
            "guardrails": inp.guardrails,
            "foreign_results": inp.foreign_results,
            "incident_id": incident.incident_id if incident else None,
            "timestamp": now,
        }
        await self._deps.store.put(Collection.WORKFLOW_RESULTS, inp.workflow_id, record)
        log.info("workflow_result_saved", workflow_id=inp.workflow_id, status=inp.status.value)


def _observe(inp: ConsolidateInput, incident: Any, now: int) -> None:
    band = inp.tickets[0].risk_band.value if inp.tickets else "unknown"
    metrics.WORKFLOWS_COMPLETED.labels(inp.status.value, band).inc()
    metrics.WORKFLOW_DURATION.labels(inp.status.value).observe((now - inp.started_at_ms) / 1000)
    timed_out = set(inp.timed_out)
    for ticket in inp.tickets:
        metrics.TICKETS_COMPLETED.labels(ticket.status.value).inc()
        if ticket.retry_count:
            metrics.TICKET_RETRIES.labels(ticket.risk_band.value).inc(ticket.retry_count)
        if sla_violated(ticket, timed_out):
            metrics.SLA_VIOLATIONS.labels(ticket.risk_band.value).inc()
    for comp in inp.compensations:
        metrics.COMPENSATIONS.labels(comp.status.value).inc()
    if incident is not None:
        metrics.INCIDENTS.labels(incident.incident_type.value).inc()
    for foreign in inp.foreign_results:
        metrics.FOREIGN_RESULTS.labels(foreign.get("status", "")).inc()


def _view(
    ticket: ExecutionTicket, allocation: Allocation, flags: dict[str, bool]
) -> AllocationView:
    metadata = {
        "allocation_method": allocation.method,
        "priority_score": f"{allocation.priority_score:.4f}",
    }
    if allocation.worker_id:
        metadata["worker_id"] = allocation.worker_id
    if allocation.explanation:
        metadata["allocation_explanation"] = _compact(allocation.explanation)
    metadata.update(allocation.metadata)  # the chosen worker's predicted queue and load
    if flags:
        metadata["policy_flags"] = _compact(flags)
    metadata.update(ml_steps.prediction_metadata(ticket))
    return AllocationView(
        ticket.ticket_id,
        allocation.worker_id,
        allocation.method,
        allocation.priority_score,
        metadata,
    )


def _count_generated(tickets: list[ExecutionTicket]) -> None:
    # One increment per (band, priority), not per ticket: a plan's tickets share both.
    for (band, priority), count in Counter(
        (t.risk_band.value, t.priority.value) for t in tickets
    ).items():
        metrics.TICKETS_GENERATED.labels(band, priority).inc(count)


def _wire(ticket: ExecutionTicket) -> ExecutionTicket:
    """What goes on the bus: a dispatch as PENDING (not started yet, as far as the worker
    knows); anything else in the wire enum (CANCELLED is FAILED with "cancelled")."""
    if ticket.status is TicketStatus.RUNNING:
        return ticket.model_copy(update={"status": TicketStatus.PENDING, "started_at": None})
    return ticket.on_wire()


def _views(issues: list[Issue]) -> list[IssueView]:
    return [IssueView(i.code, i.message, i.path) for i in issues]


def _compact(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), default=str)

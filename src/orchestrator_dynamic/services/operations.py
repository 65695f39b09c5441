"""What operators and upstream services ask of the orchestrator (used by the API and the CLI)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import structlog

from orchestrator_dynamic.domain.decode import (
    hash_matches,
    parse_decision,
    parse_plan,
    parse_result,
)
from orchestrator_dynamic.domain.errors import (
    DependencyDown,
    Issue,
    MalformedMessage,
    NotFound,
    TooLarge,
)
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision, FinalDecision
from orchestrator_dynamic.domain.ports import BusMessage, Collection, Store, WorkflowEngine
from orchestrator_dynamic.domain.workflows import Submission, WorkflowStatus
from orchestrator_dynamic.observability import metrics
from orchestrator_dynamic.services.audit import (
    LOCAL,
    Actor,
    audit_entries,
    audit_record,
    record_action,
)
from orchestrator_dynamic.services.decision_ledger import (
    DECISION_FIELDS,
    record_cancel_request,
    record_dead_letter,
    record_decision,
)
from orchestrator_dynamic.services.results import Disposition, Outcome, ResultDesk

log = structlog.get_logger(__name__)


class Operations:
    def __init__(
        self,
        gateway: WorkflowEngine,
        store: Store,
        clock: Callable[[], int],
        verify_hash: bool = False,
    ) -> None:
        self._gateway = gateway
        self._store = store
        self._clock = clock
        self._verify_hash = verify_hash
        self.results = ResultDesk(gateway, store)

    # ------------------------------------------------------------ decisions

    async def submit(self, doc: ConsolidatedDecision | bytes | dict[str, Any]) -> Submission:
        """Accept a ConsolidatedDecision (wire JSON); MalformedMessage names what is wrong."""
        decision = doc if isinstance(doc, ConsolidatedDecision) else parse_decision(doc)
        plan = parse_plan(decision)  # an unreadable plan is refused here, before any start
        if not hash_matches(decision):
            if self._verify_hash:
                issue = Issue("decision.hash_mismatch", "integrity hash does not match", "hash")
                raise MalformedMessage([issue])
            log.warning("decision_hash_mismatch", decision_id=decision.decision_id)
        return await self.start(decision, plan)

    async def start(
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
        try:
            disposition = await self._gateway.start(decision, plan)
        except TooLarge as exc:  # permanent: no workflow exists, the ledger says why
            await self._record(decision, "refused", exc.issues[0].message if exc.issues else "")
            log.warning("decision_too_large", decision_id=decision.decision_id, reason=str(exc))
            raise
        metrics.WORKFLOWS_STARTED.labels(disposition).inc()
        if disposition == "started":
            return Submission(decision.decision_id, disposition, WorkflowStatus.VALIDATING.value)
        status = await self._gateway.status_of(decision.decision_id)
        return Submission(decision.decision_id, disposition, status)

    async def _record(self, decision: ConsolidatedDecision, disposition: str, reason: str) -> None:
        fields = decision.model_dump(mode="json", include=set(DECISION_FIELDS))
        await record_decision(self._store, fields, disposition, reason, self._clock())

    # ------------------------------------------------------------ workflows

    async def dead_lettered(self, message: BusMessage, issues: list[Issue]) -> None:
        """A decision from the bus that could not be accepted: kept in the decisions ledger."""
        await record_dead_letter(self._store, message, issues, self._clock())

    async def workflow(self, workflow_id: str) -> dict[str, Any]:
        """The live view from the workflow; the stored result when the engine cannot answer."""
        try:
            return asdict(await self._gateway.view(workflow_id))
        except (NotFound, DependencyDown):
            stored = await self._store.get(Collection.WORKFLOW_RESULTS, workflow_id)
            if stored is None:
                raise
            return _stored_view(stored)

    async def workflows(
        self, status: str | None, since_ms: int | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Started decisions, newest first, with their final status once consolidated."""
        started = await self._store.find(
            Collection.DECISIONS,
            {"disposition": "started"},
            since_ms=since_ms,
            limit=limit + offset if status else limit,
            offset=0 if status else offset,
        )
        results = {}
        for decision in started:
            result = await self._store.get(Collection.WORKFLOW_RESULTS, decision["decision_id"])
            if result is not None:
                results[decision["decision_id"]] = result
        # Not consolidated yet: the live status, all of the page's at once from the engine. The
        # engine down, the list still shows what the store knows, the rest as UNKNOWN.
        pending = [d["decision_id"] for d in started if d["decision_id"] not in results]
        try:
            live = await self._gateway.statuses(pending)
        except DependencyDown as exc:
            log.warning("workflow_list_without_engine", reason=str(exc), workflows=len(pending))
            live = {}
        rows = [_summary(d, results.get(d["decision_id"]), live) for d in started]
        if status:
            rows = [r for r in rows if r["status"] == status.upper()][offset : offset + limit]
        return rows

    async def approve(
        self, workflow_id: str, by: str, reason: str, actor: Actor = LOCAL
    ) -> dict[str, Any]:
        return await self._audited("approve", workflow_id, by, reason, actor)

    async def reject(
        self, workflow_id: str, by: str, reason: str, actor: Actor = LOCAL
    ) -> dict[str, Any]:
        return await self._audited("reject", workflow_id, by, reason, actor)

    async def cancel(
        self, workflow_id: str, by: str, reason: str, actor: Actor = LOCAL
    ) -> dict[str, Any]:
        """Request cancellation with the operator's reason; the ledger keeps who and why."""
        return await self._audited("cancel", workflow_id, by, reason, actor)

    async def _audited(
        self, action: str, workflow_id: str, by: str, reason: str, actor: Actor
    ) -> dict[str, Any]:
        """Do the operator action and put it in the audit trail, accepted or refused."""
        try:
            view = await self._operator_action(action, workflow_id, by, reason)
        except Exception as exc:
            outcome = f"refused: {type(exc).__name__}: {exc}"
            await self._audit(action, workflow_id, replace(actor, by=by), reason, outcome)
            raise
        await self._audit(action, workflow_id, replace(actor, by=by), reason, "accepted")
        return view

    async def _operator_action(
        self, action: str, workflow_id: str, by: str, reason: str
    ) -> dict[str, Any]:
        if action == "cancel":
            view = await self._gateway.cancel(workflow_id, reason, by)
            await record_cancel_request(self._store, workflow_id, by, reason, self._clock())
            log.info("workflow_cancel_requested", workflow_id=workflow_id, by=by, reason=reason)
            return asdict(view)
        return asdict(await self._gateway.decide(workflow_id, action == "approve", by, reason))

    async def _audit(
        self, action: str, target: str, actor: Actor, reason: str, outcome: str
    ) -> None:
        record = audit_record(action, target, actor, reason, outcome, self._clock())
        await record_action(self._store, record)
        log.info(
            "operator_action",
            action=action,
            target=target,
            scope=actor.scope,
            token_id=actor.token_id,
            source=actor.source,
            outcome=outcome,
        )

    async def audit(
        self,
        action: str | None,
        target: str | None,
        since_ms: int | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        return await audit_entries(
            self._store, action=action, target=target, since_ms=since_ms, limit=limit, offset=offset
        )

    # ------------------------------------------------------------ tickets

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        record = await self._store.get(Collection.TICKETS, ticket_id)
        if record is None:
            raise NotFound(f"no ticket {ticket_id}")
        explanation = record.get("metadata", {}).get("allocation_explanation")
        policies = await self._store.find(Collection.POLICY_DECISIONS, {"ticket_id": ticket_id})
        return {
            "ticket": {k: v for k, v in record.items() if k != "history"},
            "history": record.get("history", []),
            "allocation": json.loads(explanation) if explanation else None,
            "policy_decisions": policies,
        }

    async def report_result(
        self, ticket_id: str, doc: bytes | dict[str, Any], worker_id: str | None = None
    ) -> Outcome:
        """A result over HTTP; ``worker_id`` when a worker token sent it (its own tickets only)."""
        result = parse_result(doc)
        if result.ticket_id != ticket_id:
            message = f"ticket_id {result.ticket_id!r} differs from the URL's {ticket_id!r}"
            raise MalformedMessage([Issue("result.ticket_mismatch", message, "ticket_id")])
        outcome = await self.results.take(result, "api", worker_id)
        if outcome.disposition is Disposition.UNKNOWN_TICKET:
            raise NotFound(f"no running workflow owns ticket {ticket_id}")
        return outcome

    # ------------------------------------------------------------ incidents

    async def incidents(
        self, severity: str | None, workflow_id: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        filters = {k: v for k, v in (("severity", severity), ("workflow_id", workflow_id)) if v}
        return await self._store.find(Collection.INCIDENTS, filters, limit=limit, offset=offset)


def _summary(
    decision: dict[str, Any], result: dict[str, Any] | None, live: dict[str, str]
) -> dict[str, Any]:
    # UNKNOWN: recorded as started, but neither a stored result nor the engine knows it (the
    # engine's retention dropped it, or the start never reached the engine).
    status = (result or {}).get("status") or live.get(decision["decision_id"], "UNKNOWN")
    return {
        "workflow_id": decision["decision_id"],
        "plan_id": decision.get("plan_id"),
        "status": status,
        "started_at": decision.get("timestamp"),
        "consolidated_at": (result or {}).get("consolidated_at"),
        "sla_violations": ((result or {}).get("sla_status") or {}).get("violations_count"),
    }


def _stored_view(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "workflow_id": stored["workflow_id"],
        "status": stored["status"],
        "step": "DONE",
        "decision_id": stored.get("decision_id"),
        "plan_id": stored.get("plan_id"),
        "tickets": stored.get("tickets", []),
        "incidents": [{"incident_id": stored["incident_id"]}] if stored.get("incident_id") else [],
        "issues": stored.get("issues", []),
        "approval": stored.get("approval"),
        "guardrails": stored.get("guardrails", []),
        "metrics": stored.get("metrics", {}),
        "reason": stored.get("reason", ""),
    }

"""C3 policy checks of one ticket: before scheduling (all four packages) and on the worker the
scheduler chose (security_constraints). Feature flags from the first check ride along."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Allocation
from orchestrator_dynamic.flow.payloads import POLICY_REFUSED, AllocateInput, AllocationView
from orchestrator_dynamic.services.policy import PlanContext, PolicyValidator, Verdict


def ticket_context(ticket: ExecutionTicket, approval: dict[str, Any] | None) -> PlanContext:
    """Destructive tasks are marked in ticket metadata at C2; the approval comes from the
    workflow (the human answer on record), so C3 needs no second look at the plan."""
    approved = bool(approval.get("approved")) if approval else None
    by = str(approval.get("by", "")) if approval else ""
    namespace = ticket.metadata.get("namespace", "default")
    return PlanContext(namespace=namespace, approved=approved, approved_by=by)


def chosen_worker(allocation: Allocation) -> dict[str, Any] | None:
    """The chosen worker's profile as the scheduler explained it (None when unassigned or
    re-used from an earlier, already checked allocation)."""
    for candidate in allocation.explanation.get("candidates", []):
        if candidate.get("worker_id") == allocation.worker_id:
            return {k: candidate.get(k) for k in ("worker_id", "security_level", "namespace")}
    return None


def refused(ticket: ExecutionTicket, verdict: Verdict, stage: str) -> AllocationView:
    reason = verdict.refusal()
    metadata = {
        "allocation_method": POLICY_REFUSED,
        "policy_refusal": reason,
        "policy_stage": stage,
        "policy_rules": json.dumps(sorted({f"{v.policy}.{v.rule}" for v in verdict.violations})),
    }
    score = float(ticket.metadata.get("priority_score", "0") or 0)
    return AllocationView(ticket.ticket_id, None, POLICY_REFUSED, score, metadata)


@dataclass
class TicketChecks:
    validator: PolicyValidator | None
    ticket: ExecutionTicket
    now_ms: int
    context: PlanContext
    flags: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def of(
        cls, validator: PolicyValidator | None, ticket: ExecutionTicket, inp: AllocateInput
    ) -> TicketChecks:
        return cls(validator, ticket, inp.now_ms, ticket_context(ticket, inp.approval))

    async def before(self) -> AllocationView | None:
        if self.validator is None:
            return None
        verdict = await self.validator.validate_ticket(self.ticket, self.now_ms, self.context)
        self.flags = verdict.flags
        return None if verdict.allowed else refused(self.ticket, verdict, "ticket")

    async def after(self, allocation: Allocation) -> AllocationView | None:
        worker = chosen_worker(allocation)
        if self.validator is None or worker is None:
            return None
        verdict = await self.validator.validate_allocation(
            self.ticket, worker, self.now_ms, self.context
        )
        return None if verdict.allowed else refused(self.ticket, verdict, "allocation")

"""PolicyValidator over the embedded engine and the repository's policies: what C1, C3 and the
allocation check refuse, the rule they name, and the decision log they leave."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from prometheus_client import REGISTRY

from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.domain.errors import PlanRefused, PolicyUnavailable
from orchestrator_dynamic.domain.ports import Collection, PolicyDecision
from orchestrator_dynamic.services.policy import (
    PlanContext,
    PolicyConfig,
    PolicyValidator,
    plan_concurrency,
)
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.conftest import DECISIONS
from tests.fakes import MemoryStoreFake
from tests.unit.policy.helpers import clock_of, planned

VALID = sorted(
    p.stem for p in DECISIONS.glob("*.json") if not p.stem.startswith(("invalid-", "malformed-"))
)


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[EmbeddedPolicyEngine]:
    engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
    yield engine
    await engine.close()


SPECIFICATION_CAPABILITIES = ("code_generation", "deployment", "testing", "validation")


def validator(engine: Any, store: Any = None, **config: Any) -> PolicyValidator:
    return PolicyValidator(engine, store, PolicyConfig(**config))


@pytest.mark.parametrize("name", VALID)
async def test_every_valid_fixture_passes_c1_and_c3(engine: Any, name: str) -> None:
    plan = planned(name)
    now = clock_of({"created_at": plan.tickets[0].created_at - 1_000})
    check = validator(engine)
    verdict = await check.validate_plan(plan.plan, plan.tickets, now)
    assert verdict.allowed, verdict.refusal()
    context = PlanContext.of(plan.plan, approved=True if plan.plan.needs_approval else None)
    for ticket in plan.tickets:
        ticket_verdict = await check.validate_ticket(ticket, now, context)
        assert ticket_verdict.allowed, ticket_verdict.refusal()


@pytest.mark.parametrize("name", ["invalid-cycle", "invalid-expired-plan", "invalid-no-tasks"])
def test_invalid_fixtures_never_reach_the_policies(name: str) -> None:
    with pytest.raises(PlanRefused):
        planned(name)


async def test_c1_refuses_a_plan_over_the_ticket_limit(engine: Any) -> None:
    plan = planned("large-100-task-dag")
    now = plan.tickets[0].created_at
    at_once = plan_concurrency(plan.tickets, None)  # what it can run at once, not its size
    verdict = await validator(engine, max_concurrent_tickets=at_once - 1).validate_plan(
        plan.plan, plan.tickets, now
    )
    assert not verdict.allowed
    assert [i.code for i in verdict.issues()] == [
        "policy.resource_limits.too_many_concurrent_tickets"
    ]


async def test_c1_decides_a_thousand_task_plan(engine: Any) -> None:
    """The compiled program has a fixed instruction budget a whole plan of 1,000 tickets
    outgrows; the decision still comes (from the interpreter), not an engine failure."""
    plan = planned("large-100-task-dag")
    tickets = [
        t.model_copy(update={"ticket_id": f"{t.ticket_id}-{copy}"})
        for copy in range(10)
        for t in plan.tickets
    ]
    now = plan.tickets[0].created_at
    roomy = await validator(engine, max_concurrent_tickets=10_000).validate_plan(
        plan.plan, tickets, now
    )
    assert roomy.allowed, roomy.refusal()
    strict = await validator(engine).validate_plan(plan.plan, tickets, now)
    assert [i.code for i in strict.issues()] == [
        "policy.resource_limits.too_many_concurrent_tickets"
    ]


async def test_c1_names_every_rule_broken(engine: Any) -> None:
    plan = planned("approve-5-task-dag")
    ticket = plan.tickets[0].model_copy(
        update={"parameters": {"cpu": "8"}, "required_capabilities": ["shell"]}
    )
    check = validator(engine, allowed_capabilities=SPECIFICATION_CAPABILITIES)
    verdict = await check.validate_plan(plan.plan, [ticket], ticket.created_at)
    codes = sorted({i.code for i in verdict.issues()})
    assert codes == [
        "policy.resource_limits.capability_not_allowed",
        "policy.resource_limits.cpu_exceeds_limit",
    ]
    assert all(ticket.task_id in i.message for i in verdict.issues())


async def test_without_an_allow_list_every_capability_is_allowed(engine: Any) -> None:
    """Upstream plans need read, write, python, helm...: unset allows them all."""
    plan = planned("approve-5-task-dag")
    tickets = [
        t.model_copy(update={"required_capabilities": ["read", "write", "python", "helm"]})
        for t in plan.tickets
    ]
    verdict = await validator(engine).validate_plan(plan.plan, tickets, tickets[0].created_at)
    assert verdict.allowed, verdict.refusal()
    listed = validator(engine, allowed_capabilities=("read", "write"))
    verdict = await listed.validate_plan(plan.plan, tickets, tickets[0].created_at)
    refused = {i.message for i in verdict.issues()}
    assert any('capability "python"' in m for m in refused)
    assert any('capability "helm"' in m for m in refused)
    assert not any('capability "read"' in m for m in refused)


async def test_c1_refuses_a_deadline_already_past(engine: Any) -> None:
    plan = planned("low-risk-lowercase-types")
    late = plan.tickets[0].sla.deadline + 1
    verdict = await validator(engine).validate_plan(plan.plan, plan.tickets, late)
    assert "policy.sla_enforcement.deadline_in_past" in {i.code for i in verdict.issues()}


async def test_c3_refuses_destructive_ticket_without_approval(engine: Any) -> None:
    plan = planned("approve-5-task-dag", destructive_tasks=["t4-canary"])
    marked = [t for t in plan.tickets if t.metadata.get("destructive") == "true"]
    assert [t.task_id for t in marked] == ["t4-canary"]
    check, now = validator(engine), marked[0].created_at
    refused = await check.validate_ticket(marked[0], now, PlanContext(approved=None))
    assert [v.rule for v in refused.violations] == ["destructive_without_approval"]
    approved = await check.validate_ticket(marked[0], now, PlanContext(approved=True))
    assert approved.allowed


async def test_allocation_check_refuses_a_worker_not_cleared(engine: Any) -> None:
    ticket = planned("critical-security-3-task").tickets[0]
    worker = {"worker_id": "w1", "security_level": "CONFIDENTIAL", "namespace": "default"}
    verdict = await validator(engine).validate_allocation(ticket, worker, ticket.created_at)
    assert [i.code for i in verdict.issues()] == [
        "policy.security_constraints.worker_security_level_insufficient"
    ]


async def test_feature_flags_are_exposed(engine: Any) -> None:
    ticket = planned("critical-security-3-task").tickets[0]
    verdict = await validator(engine).validate_ticket(ticket, ticket.created_at)
    assert verdict.flags["intelligent_scheduler"] is True
    assert verdict.flags["predictive_allocation"] is False


async def test_sla_budget_and_signals_reach_the_policies(engine: Any) -> None:
    ticket = planned("approve-5-task-dag").tickets[0]
    context = PlanContext(sla_budget_remaining=0.0, signals={"tenant_tier": "premium", "load": 0.1})
    verdict = await validator(engine).validate_ticket(ticket, ticket.created_at, context)
    assert [v.rule for v in verdict.violations] == ["sla_budget_exhausted"]
    assert verdict.flags["burst_capacity"] is True


async def test_every_decision_is_logged_with_its_scope(engine: Any) -> None:
    store = MemoryStoreFake()
    ticket = planned("approve-5-task-dag").tickets[0]
    check = validator(engine, store, allowed_capabilities=["testing"])
    verdict = await check.validate_ticket(ticket, ticket.created_at)
    assert not verdict.allowed
    records = await store.find(Collection.POLICY_DECISIONS, {"ticket_id": ticket.ticket_id})
    assert sorted(r["policy"].rsplit("/", 1)[-1] for r in records) == [
        "feature_flags",
        "resource_limits",
        "security_constraints",
        "sla_enforcement",
    ]
    denied = next(r for r in records if r["result"] == "deny")
    assert denied["violations"][0]["rule"] == "capability_not_allowed"
    assert denied["engine"] == "embedded" and denied["workflow_id"] == ticket.workflow_id
    assert len(denied["input_digest"]) == 64 and denied["latency_ms"] >= 0
    await check.validate_ticket(ticket, ticket.created_at)
    again = await store.find(Collection.POLICY_DECISIONS, {"ticket_id": ticket.ticket_id})
    assert len(again) == 4, "the same decision replayed overwrites its record"


class Unreachable:
    """A PolicyEngine whose backend is down (what an adapter raises when it cannot answer)."""

    async def evaluate(self, package: str, input_doc: Mapping[str, Any]) -> PolicyDecision:
        raise PolicyUnavailable("policy", "connection refused")


async def test_an_unavailable_engine_refuses(engine: Any) -> None:
    plan = planned("approve-5-task-dag")
    verdict = await PolicyValidator(Unreachable()).validate_plan(
        plan.plan, plan.tickets, plan.tickets[0].created_at
    )
    assert not verdict.allowed
    assert {i.code for i in verdict.issues()} == {
        "policy.resource_limits.engine_unavailable",
        "policy.sla_enforcement.engine_unavailable",
    }


async def test_each_package_evaluation_is_counted_by_result_where_prometheus_reads(
    engine: Any,
) -> None:
    def counted(policy_name: str, result: str) -> float:
        value = REGISTRY.get_sample_value(
            "orchestration_opa_validations_total", {"policy_name": policy_name, "result": result}
        )
        return value or 0.0

    plan = planned("approve-5-task-dag", destructive_tasks=["t4-canary"])
    marked = next(t for t in plan.tickets if t.metadata.get("destructive") == "true")
    before = {r: counted("security_constraints", r) for r in ("allow", "deny", "error")}
    resources = counted("resource_limits", "allow")
    check = validator(engine)
    await check.validate_ticket(marked, marked.created_at, PlanContext(approved=None))
    await check.validate_ticket(marked, marked.created_at, PlanContext(approved=True))
    await PolicyValidator(Unreachable()).validate_ticket(marked, marked.created_at)
    after = {r: counted("security_constraints", r) for r in ("allow", "deny", "error")}
    assert {r: after[r] - before[r] for r in after} == {"allow": 1, "deny": 1, "error": 1}
    assert counted("resource_limits", "allow") == resources + 2

"""C1's ``concurrent_tickets``: what a plan can run at once, not how many tickets it has."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.flow.payloads import FlowOptions, ValidateInput
from orchestrator_dynamic.flow.steps import FlowDeps, FlowSteps
from orchestrator_dynamic.services.policy import PolicyValidator, plan_concurrency
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.conftest import decision_doc
from tests.fakes import CapabilityScheduler, MemoryStoreFake, RecordingPublisher
from tests.unit.policy.helpers import clock_of, planned


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[EmbeddedPolicyEngine]:
    engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
    yield engine
    await engine.close()


def chain_and_fan(width: int, chain: int) -> list[ExecutionTicket]:
    """A chain of ``chain`` tickets beside ``width`` independent ones."""
    base = planned("approve-5-task-dag").tickets[0]
    tickets = [
        base.model_copy(update={"ticket_id": f"c{i}", "dependencies": [f"c{i - 1}"] if i else []})
        for i in range(chain)
    ]
    tickets += [
        base.model_copy(update={"ticket_id": f"f{i}", "dependencies": []}) for i in range(width)
    ]
    return tickets


def copies(times: int) -> list[ExecutionTicket]:
    plan = planned("large-100-task-dag")
    return [
        t.model_copy(
            update={
                "ticket_id": f"{t.ticket_id}-{n}",
                "dependencies": [f"{d}-{n}" for d in t.dependencies],
            }
        )
        for n in range(times)
        for t in plan.tickets
    ]


def test_a_chain_runs_one_ticket_at_a_time() -> None:
    # 3 on the chain + 4 alone: the chain contributes one ticket at a time.
    assert plan_concurrency(chain_and_fan(4, 3), None) == 5
    assert plan_concurrency(chain_and_fan(0, 6), None) == 1
    assert plan_concurrency([], None) == 0


def test_never_more_than_the_workflow_lets_be_in_flight() -> None:
    assert plan_concurrency(chain_and_fan(40, 1), 10) == 10
    assert plan_concurrency(chain_and_fan(4, 1), 10) == 5


async def test_a_thousand_task_plan_passes_c1_within_the_in_flight_limit(
    engine: EmbeddedPolicyEngine,
) -> None:
    """It used to be refused for its size: 1,000 > max_concurrent_tickets (100), though the
    workflow never runs more than SCHEDULER_MAX_PARALLEL_TICKETS (100) at once."""
    plan = planned("large-100-task-dag")
    tickets = copies(10)
    now = plan.tickets[0].created_at
    verdict = await PolicyValidator(engine).validate_plan(plan.plan, tickets, now, 100)
    assert verdict.allowed, verdict.refusal()
    # Allowed to run 500 at once, the same plan would: refused, naming the count.
    wide = await PolicyValidator(engine).validate_plan(plan.plan, tickets, now, 500)
    assert [i.code for i in wide.issues()] == ["policy.resource_limits.too_many_concurrent_tickets"]
    assert "500 concurrent tickets" in wide.refusal()


async def test_c1_passes_the_workflows_in_flight_limit_to_the_policies(
    engine: EmbeddedPolicyEngine,
) -> None:
    """Through the step: a 1,000-task plan is valid at C1 on the default settings."""
    doc = decision_doc("large-100-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    template = plan["tasks"]
    tasks = [
        {
            **template[n % len(template)],
            "task_id": f"L{n // 100}-{n % 100}",
            "dependencies": [f"L{n // 100 - 1}-{(n + k) % 100}" for k in (0, 1)]
            if n >= 100
            else [],
        }
        for n in range(1_000)
    ]
    plan.update(tasks=tasks, execution_order=[t["task_id"] for t in tasks])
    doc["cognitive_plan"] = json.dumps(plan)
    decision = parse_decision(doc)
    deps = FlowDeps(
        RecordingPublisher(),
        MemoryStoreFake(),
        CapabilityScheduler(),
        lambda: clock_of(doc),
        policy=PolicyValidator(engine),
    )
    outcome = await FlowSteps(deps).validate(ValidateInput(decision, "wf-1", FlowOptions()))
    assert outcome.valid, outcome.issues
    tight = FlowOptions(max_in_flight=101)  # a deployment that may run 101 at once: refused
    outcome = await FlowSteps(deps).validate(ValidateInput(decision, "wf-2", tight))
    assert [i.code for i in outcome.issues] == [
        "policy.resource_limits.too_many_concurrent_tickets"
    ]

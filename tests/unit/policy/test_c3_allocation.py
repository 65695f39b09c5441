"""C3 with policies: a refused ticket is reported as POLICY_REFUSED with the rule, never
scheduled or, when the chosen worker is refused, its reservation is released."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.execution import ExecutionState, TransitionKind
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import Allocation
from orchestrator_dynamic.domain.scoring import PriorityWeights, WorkerProfile
from orchestrator_dynamic.flow.payloads import POLICY_REFUSED, AllocateInput
from orchestrator_dynamic.services.flow_steps import FlowDeps, FlowSteps
from orchestrator_dynamic.services.policy import PolicyConfig, PolicyValidator
from orchestrator_dynamic.services.scheduling import IntelligentScheduler
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.fakes import CapabilityScheduler, MemoryStoreFake, RecordingPublisher
from tests.unit.policy.helpers import planned


class ExplainingScheduler(CapabilityScheduler):
    """Capability match that explains its choice like the real scheduler (with the worker's
    security level and namespace)."""

    security_level: str = "INTERNAL"

    async def allocate(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        *,
        intelligent: bool | None = None,
        weights: PriorityWeights | None = None,
    ) -> Allocation:
        chosen = await super().allocate(ticket, now_ms)
        candidate = {
            "worker_id": chosen.worker_id,
            "security_level": self.security_level,
            "namespace": "default",
        }
        return Allocation(
            chosen.ticket_id, chosen.worker_id, chosen.method, 0.5, {"candidates": [candidate]}
        )


@pytest.fixture
async def engine() -> AsyncIterator[EmbeddedPolicyEngine]:
    engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
    yield engine
    await engine.close()


def steps(engine: EmbeddedPolicyEngine, scheduler: Any, **config: Any) -> FlowSteps:
    validator = PolicyValidator(engine, MemoryStoreFake(), PolicyConfig(**config))
    return FlowSteps(
        FlowDeps(RecordingPublisher(), MemoryStoreFake(), scheduler, lambda: 0, policy=validator)
    )


@pytest.fixture
def scheduler() -> ExplainingScheduler:
    return ExplainingScheduler(workers={"w-all": {"code_generation", "testing", "validation"}})


async def test_a_refused_ticket_is_not_scheduled(
    engine: EmbeddedPolicyEngine, scheduler: ExplainingScheduler
) -> None:
    tickets = planned("low-risk-lowercase-types").tickets
    out = await steps(engine, scheduler, allowed_capabilities=["testing"]).allocate(
        AllocateInput(tickets, tickets[0].created_at)
    )
    by_task = {t.ticket_id: t.task_id for t in tickets}
    methods = {by_task[a.ticket_id]: a.method for a in out.allocations}
    refused = next(a for a in out.allocations if a.method == POLICY_REFUSED)
    assert sorted(methods.values()) == sorted(["capability_match", POLICY_REFUSED])
    assert refused.worker_id is None
    assert "resource_limits.capability_not_allowed" in refused.metadata["policy_refusal"]
    assert refused.metadata["policy_stage"] == "ticket"


async def test_allowed_tickets_carry_the_feature_flags(
    engine: EmbeddedPolicyEngine, scheduler: ExplainingScheduler
) -> None:
    tickets = planned("low-risk-lowercase-types").tickets
    out = await steps(engine, scheduler).allocate(AllocateInput(tickets, tickets[0].created_at))
    assert all(a.method == "capability_match" for a in out.allocations)
    assert all(
        '"intelligent_scheduler":true' in a.metadata["policy_flags"] for a in out.allocations
    )


async def test_a_worker_not_cleared_is_refused_and_released(
    engine: EmbeddedPolicyEngine,
) -> None:
    scheduler = ExplainingScheduler(workers={"w-low": {"deployment", "validation"}})
    tickets = planned("critical-security-3-task").tickets
    out = await steps(engine, scheduler).allocate(AllocateInput(tickets[:1], tickets[0].created_at))
    [allocation] = out.allocations
    assert allocation.method == POLICY_REFUSED
    assert allocation.metadata["policy_stage"] == "allocation"
    assert "worker_security_level_insufficient" in allocation.metadata["policy_refusal"]
    assert scheduler.released == [(tickets[0].ticket_id, "w-low")]


def test_refuse_fails_the_ticket_for_good_and_halts() -> None:
    tickets = planned("low-risk-lowercase-types").tickets
    state = ExecutionState.of(tickets, max_in_flight=10)
    transition = state.refuse(tickets[0].ticket_id, 5, "resource_limits.x: no")
    assert transition.kind is TransitionKind.FAILED
    ticket = state.tickets[tickets[0].ticket_id]
    assert ticket.status is TicketStatus.FAILED and ticket.retry_count == 0
    assert ticket.error_message == "resource_limits.x: no"
    assert state.halted and state.finished() and state.ready(6) == []


async def test_the_intelligent_scheduler_flag_steers_the_real_scheduler(
    engine: EmbeddedPolicyEngine,
) -> None:
    """feature_flags enables the intelligent scheduler for its namespaces and for critical/high
    work; a low-risk ticket elsewhere is placed by rotation."""
    registry = BuiltinRegistry()
    caps = frozenset({"code_generation", "testing", "validation", "deployment"})
    for worker_id, namespace in (("w-home", "default"), ("w-lab", "lab")):
        await registry.register(WorkerProfile(worker_id, caps, namespace=namespace))
    tickets = planned("low-risk-lowercase-types").tickets
    elsewhere = [
        t.model_copy(update={"metadata": {**t.metadata, "namespace": "lab"}}) for t in tickets
    ]
    at = tickets[0].created_at
    home = await steps(engine, IntelligentScheduler(registry, MemoryCache())).allocate(
        AllocateInput(tickets, at)
    )
    away = await steps(engine, IntelligentScheduler(registry, MemoryCache())).allocate(
        AllocateInput(elsewhere, at)
    )
    assert {a.method for a in home.allocations} == {"intelligent"}
    assert {a.method for a in away.allocations} == {"round_robin"}
    assert all(
        '"intelligent_scheduler":false' in a.metadata["policy_flags"] for a in away.allocations
    )

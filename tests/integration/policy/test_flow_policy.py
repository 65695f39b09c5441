"""Flow C with policies on, on a real Temporal dev server: valid plans still run; a ticket the
allocation check refuses is never dispatched, the workflow fails through its normal failure
path, and the ticket's view answers "why was this refused?"."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.model import SecurityLevel, TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from orchestrator_dynamic.services.operations import Operations
from orchestrator_dynamic.services.policy import PolicyValidator
from orchestrator_dynamic.services.scheduling import IntelligentScheduler
from tests.conftest import decision_bytes
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig, now_ms

pytestmark = pytest.mark.integration


async def policed_rig(
    temporal_env: Any, engine: EmbeddedPolicyEngine, scheduler: Any = None
) -> FlowRig:
    """The Flow C test rig with the embedded policy engine (and optionally a real scheduler)."""
    return FlowRig(
        temporal_env.client,
        FAST,
        lambda t: True,
        scheduler=scheduler,
        policy=lambda store: PolicyValidator(engine, store),
    )


async def test_valid_plan_runs_with_every_ticket_checked(
    temporal_env: Any, embedded: EmbeddedPolicyEngine
) -> None:
    rig = await policed_rig(temporal_env, embedded)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    records = rig.store.data[Collection.POLICY_DECISIONS].values()
    plan_checks = {r["policy"] for r in records if r["stage"] == "plan"}
    assert plan_checks == {
        "neuralhive/orchestrator/resource_limits",
        "neuralhive/orchestrator/sla_enforcement",
    }
    per_ticket = {r["ticket_id"] for r in records if r["stage"] == "ticket"}
    assert per_ticket == {t.ticket_id for t in view.tickets}
    assert all(r["result"] == "allow" for r in records)


async def test_refused_allocation_is_never_dispatched(
    temporal_env: Any, embedded: EmbeddedPolicyEngine
) -> None:
    registry = BuiltinRegistry()
    await registry.register(
        WorkerProfile(
            "agent-elsewhere",
            frozenset({"deployment", "validation"}),
            namespace="tenant-b",
            security_level=SecurityLevel.RESTRICTED,
        )
    )
    scheduler = IntelligentScheduler(registry, MemoryCache())
    rig = await policed_rig(temporal_env, embedded, scheduler)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("critical-security-3-task"))
        view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.FAILED
    assert [t for t in rig.tickets_published() if t.status is TicketStatus.PENDING] == []
    refused = next(t for t in view.tickets if t.status == "FAILED")
    ops = Operations(rig.gateway, rig.store, now_ms)
    detail = await ops.ticket(refused.ticket_id)
    assert "worker_namespace_mismatch" in (detail["ticket"]["error_message"] or "")
    denials = [d for d in detail["policy_decisions"] if d["result"] == "deny"]
    assert [(d["stage"], d["violations"][0]["rule"]) for d in denials] == [
        ("allocation", "worker_namespace_mismatch")
    ]

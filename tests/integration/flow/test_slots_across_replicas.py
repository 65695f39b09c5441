"""A worker's slot comes back with its result even when the replica that takes the result cannot
read the ticket yet (real Temporal, the production scheduler on the in-memory ledger).

Scaled out, the intake replica that receives a result is not the worker replica that dispatched
the ticket. During a store outage the dispatch record waits in the worker replica's spool, so
the intake finds no record of the ticket (or finds an older one). The slot must still be given
back: the capacity ledger itself knows which worker holds the ticket. Before this was so, every
result taken that way left its slot held, and once a worker's slots were all held the plans
waiting for it stalled for good (the chaos campaign's "postgres stopped" scenario).
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.conftest import decision_bytes
from tests.fakes import MemoryStoreFake
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig, now_ms
from tests.scheduling_factory import worker

pytestmark = pytest.mark.integration

EVERYTHING = {"code_generation", "testing", "validation", "deployment"}


async def test_a_result_frees_its_slot_when_the_intake_cannot_read_the_ticket(
    temporal_env: Any,
) -> None:
    registry = BuiltinRegistry()
    await registry.register(
        worker("only-agent", EVERYTHING, max_tasks=1, security=SecurityLevel.RESTRICTED)
    )
    ledger = MemoryCache()
    scheduler = IntelligentScheduler(registry, ledger, SchedulerConfig(cache_ttl_seconds=5))
    rig = FlowRig(temporal_env.client, FAST, lambda t: True, scheduler=scheduler)
    # The intake replica's view of the store: none of the dispatch records reached it yet.
    rig.gateway = FlowGateway(
        temporal_env.client, rig.task_queue, MemoryStoreFake(), lambda: FAST, now_ms, scheduler
    )
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        # One slot for five tasks in a chain of layers: each needs the slot the last one held.
        view = await rig.finished_view(submission.workflow_id, timeout_s=30)
    assert view.status is WorkflowStatus.COMPLETED, view.reason
    assert (await ledger.loads(["only-agent"]))["only-agent"].count == 0

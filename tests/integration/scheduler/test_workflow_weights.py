"""C3 scores with the priority weights the workflow started with, as C2 and C4 do (real Temporal,
the real scheduler over the built-in registry and the in-process cache)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.model import TicketStatus
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.flow.payloads import FlowOptions, WorkflowStatus
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.conftest import decision_bytes
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import WORKERS, FlowRig
from tests.scheduling_factory import worker

pytestmark = pytest.mark.integration


async def test_c3_uses_the_weights_frozen_into_the_workflow(temporal_env: Any) -> None:
    registry = BuiltinRegistry()
    for worker_id, caps in WORKERS.items():
        await registry.register(worker(worker_id, set(caps)))
    # The process was configured with other weights than the workflow carries (settings changed
    # and the service restarted while the workflow ran): the workflow's weights win.
    scheduler = IntelligentScheduler(
        registry,
        MemoryCache(),
        SchedulerConfig(weights=PriorityWeights(1.0, 1.0, 1.0), cache_ttl_seconds=0.0),
    )
    options = FlowOptions(
        retry_initial_ms=FAST.retry_initial_ms,
        retry_max_ms=FAST.retry_max_ms,
        weights=(0.0, 0.0, 0.0),
    )
    rig = FlowRig(temporal_env.client, options, lambda t: True, scheduler=scheduler)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.COMPLETED
    dispatched = [t for t in rig.tickets_published() if t.status is TicketStatus.PENDING]
    assert len(dispatched) == 5
    assert {t.metadata["allocation_method"] for t in dispatched} == {"intelligent"}
    assert {t.metadata["priority_score"] for t in dispatched} == {"0.0000"}
